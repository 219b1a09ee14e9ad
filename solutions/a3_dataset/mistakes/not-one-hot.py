# The target is the label itself (a single number) instead of its one-hot encoding: a float32
# vector of 10 with a 1.0 at the label's index and 0.0 elsewhere.
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        self.labels = table[:, 0]
        self.images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
        self.targets = torch.from_numpy(self.labels).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return int(self.labels[i]), self.images[i], self.targets[i]
