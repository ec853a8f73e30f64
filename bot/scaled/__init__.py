"""The scaled profile: its generated files, the Redis lock store, the RabbitMQ broker and consumer, a test cluster."""
