#!/usr/bin/env python3
"""Runs one test of the Paho interoperability suites (client_test.py for MQTT 3.1.1, client_test5.py for MQTT 5.0)
against a broker that requires credentials: every CONNECT that sets no user name carries PAHO_USER / PAHO_PASS from
the environment. Plexus's own file (not part of the Paho copy).
usage: run_one.py {3|5} HOST PORT Test.test_x"""
import importlib, logging, os, select, sys, threading, types, unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
# mqtt/__init__.py imports the Paho test brokers too, which this copy leaves out: the package is registered without
# running it, and its clients and formats import as usual.
package = types.ModuleType("mqtt")
package.__path__ = [os.path.join(here, "mqtt")]
sys.modules["mqtt"] = package
version, host, port, test = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
user, password = os.environ.get("PAHO_USER"), os.environ.get("PAHO_PASS")
# The clients wait 0.3 to 0.5 s for a CONNACK; on a busy shared test machine that is not always enough, and how fast
# the CONNACK comes is not what the suites check. Inside connect, a packet read first waits up to CONNACK_WAIT seconds
# for the socket to become readable; every other read keeps the suites' own timeouts (the flow-control tests rely on them).
CONNACK_WAIT = float(os.environ.get("PAHO_CONNACK_WAIT", "10"))
connecting = threading.local()
for client_name, format_name in (("mqtt.clients.V311.main", "mqtt.formats.MQTTV311"), ("mqtt.clients.V5.main", "mqtt.formats.MQTTV5")):
    client = importlib.import_module(client_name)
    original_connect = client.Client.connect
    def connect(self, *args, _original=original_connect, **kwargs):
        if user and not kwargs.get("username"):
            kwargs["username"] = user
            kwargs["password"] = password.encode() if password else None
        connecting.active = True
        try:
            return _original(self, *args, **kwargs)
        finally:
            connecting.active = False
    client.Client.connect = connect
    packets = importlib.import_module(format_name)
    original_get_packet = packets.getPacket
    def get_packet(sock, _original=original_get_packet):
        if getattr(connecting, "active", False):
            select.select([sock], [], [], CONNACK_WAIT)
        return _original(sock)
    # The clients import getPacket through the module ("MQTTV5.getPacket(...)"), so replacing the attribute is enough.
    packets.getPacket = get_packet
    for submodule in ("MQTTV311", "MQTTV5"):
        inner = sys.modules.get(format_name + "." + submodule)
        if inner is not None:
            inner.getPacket = get_packet

suite = importlib.import_module("client_test5" if version == "5" else "client_test")
# The suites set these in their __main__ block, which does not run on import.
base_topics = ["TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA"]
base_wild = ["TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#"]
if version == "5":
    suite.topic_prefix = "client_test5/"
    suite.topics = [suite.topic_prefix + t for t in base_topics]
    suite.wildtopics = [suite.topic_prefix + t for t in base_wild]
else:
    suite.topics = tuple(base_topics)
    suite.wildtopics = tuple(base_wild)
suite.nosubscribe_topics = ("test/nosubscribe",)
suite.host, suite.port = host, port
logging.getLogger().setLevel(logging.ERROR)
unittest.main(module=suite, argv=[sys.argv[0], test], exit=True)
