"""Status write-back: order-line state changes -> one status update per (order, change) in the
channel's own shape, delivered through the outbox in order per order."""
