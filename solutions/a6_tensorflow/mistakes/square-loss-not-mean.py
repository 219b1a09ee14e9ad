# The loss sums the squared errors (tf.reduce_sum) instead of averaging them (tf.reduce_mean), so
# it and its gradients are N times too large and learning_rate=0.1 makes the training diverge.
def square_loss(targets, predictions):
    per_sample_losses = tf.square(targets - predictions)
    return tf.reduce_sum(per_sample_losses)
