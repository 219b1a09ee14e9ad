# NaiveSequential.weights returns a list of lists, one [W, b] per layer, instead of one flat list
# [W1, b1, W2, b2, ...]; tape.gradient and an optimizer expect the flat list. Extend the list
# (weights += layer.weights) rather than appending to it.
class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self):
        weights = []
        for layer in self.layers:
            weights.append(layer.weights)
        return weights
