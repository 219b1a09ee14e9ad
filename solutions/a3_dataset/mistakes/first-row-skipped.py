# The first line of the CSV is skipped as if it were a header (skiprows=1, next(reader), or
# pandas.read_csv without header=None), but the MNIST CSV has no header: the first digit is lost,
# len(dataset) is one short and every item is the next line's.
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2, skiprows=1)
        self.labels = table[:, 0]
        self.images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
        self.targets = torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return int(self.labels[i]), self.images[i], self.targets[i]
