# accuracy returns how many predictions are right instead of the fraction of them: divide the count
# by the number of labels (or take the mean of the right/wrong values as floats).
def accuracy(logits, labels):
    predicted = logits.argmax(dim=1)
    return (predicted == labels).sum().item()
