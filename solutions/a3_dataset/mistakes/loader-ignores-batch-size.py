# make_loader does not pass batch_size on, so DataLoader uses its default of 1 (or whatever number
# is written in its place): every batch holds a single item. Pass batch_size=batch_size.
def make_loader(dataset, batch_size, shuffle=True):
    return DataLoader(dataset, shuffle=shuffle)
