# The label is a NumPy scalar (numpy.int64, or numpy.float64 from a float array), not a Python
# int: indexing a NumPy array never gives a Python number. Convert it with int(...).
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        self.labels = table[:, 0]
        self.images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
        self.targets = torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.labels[i], self.images[i], self.targets[i]
