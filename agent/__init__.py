"""The edge agent of a monitoring-room box.

It reads the room's devices through drivers (SIA DC-09, Modbus TCP, cameras, HTTP push),
normalises what they say into v1 events, keeps them in a durable outbox and publishes
them over MQTT until the hub acknowledges them. It imports `wire` and nothing of `hub`.
"""
