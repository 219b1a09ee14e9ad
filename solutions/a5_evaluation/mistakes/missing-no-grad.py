# evaluate runs the model with gradients enabled, so every batch builds an autograd graph that is never
# used: memory and time wasted. Wrap the loop in `with torch.no_grad():` (or torch.inference_mode()).
def evaluate(model, loader, device):
    model.eval()
    correct, total = 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        predicted = model(images).argmax(dim=1)
        correct += (predicted == labels).sum().item()
        total += labels.size(0)
    return correct / total
