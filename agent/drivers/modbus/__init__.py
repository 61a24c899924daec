"""The Modbus TCP poller: door controllers expose their doors' inputs as registers."""
