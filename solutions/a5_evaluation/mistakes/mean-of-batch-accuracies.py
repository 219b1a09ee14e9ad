# The accuracy over a loader is the mean of the batches' accuracies, so the images of a smaller last
# batch weigh more than the others. Count the right predictions over all images and divide by the
# number of images.
def evaluate(model, loader, device):
    model.eval()
    accuracies = []
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            accuracies.append((predicted == labels).float().mean().item())
    return sum(accuracies) / len(accuracies)
