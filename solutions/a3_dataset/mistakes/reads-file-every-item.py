# __getitem__ reads the CSV again for every item (here np.loadtxt with skiprows), so an epoch
# parses the file once per digit. Parse it once in __init__, keep the arrays or tensors in memory,
# and let __getitem__ only index into them.
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        self.csv_file = csv_file
        with open(csv_file) as f:
            self.length = sum(1 for line in f if line.strip())

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        row = np.loadtxt(self.csv_file, delimiter=",", dtype=np.int64, skiprows=i, max_rows=1)
        label = int(row[0])
        image = torch.tensor(row[1:], dtype=torch.float32) / 255
        target = torch.zeros(10)
        target[label] = 1.0
        return label, image, target
