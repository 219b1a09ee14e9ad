# The one-hot target is an int64 tensor: torch.nn.functional.one_hot returns int64, and losses such
# as MSE or BCE need float targets. Convert it with .float() (or build it with torch.zeros(10)).
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        self.labels = table[:, 0]
        self.images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
        self.targets = torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return int(self.labels[i]), self.images[i], self.targets[i]
