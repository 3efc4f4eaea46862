"""deploy/: the compose file and Envoy's config agree with each other and with the runtime (they are not run here:
no container engine; deploy/README.md says what was run)."""

from pathlib import Path

import yaml

from eai_avatar.client import SESSION_METADATA_KEY
from eai_avatar.runtime.config import ENVIRONMENT, RuntimeConfig
from eai_avatar.v1 import SERVICE_NAME

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_compose_file_and_envoy_agree_with_the_runtime():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    envoy = yaml.safe_load((DEPLOY / "envoy.yaml").read_text())
    runtimes = {name: service for name, service in compose["services"].items() if name.startswith("runtime-")}
    assert len(runtimes) == 2
    replica_ids = {service["environment"]["EAI_AVATAR_REPLICA_ID"] for service in runtimes.values()}
    assert replica_ids == set(runtimes)  # each replica its own lease name

    cluster = envoy["static_resources"]["clusters"][0]
    endpoints = [e["endpoint"]["address"]["socket_address"] for e in cluster["load_assignment"]["endpoints"][0]
                 ["lb_endpoints"]]  # fmt: skip
    assert {(e["address"], e["port_value"]) for e in endpoints} == {(name, 50051) for name in runtimes}
    assert all(service["command"][-2:] == ["--port", "50051"] for service in runtimes.values())
    assert cluster["lb_policy"] == "RING_HASH"
    assert cluster["health_checks"][0]["grpc_health_check"]["service_name"] == SERVICE_NAME
    route = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    route = route["route_config"]["virtual_hosts"][0]["routes"][0]["route"]
    assert route["hash_policy"][0]["header"]["header_name"] == SESSION_METADATA_KEY

    environment = next(iter(runtimes.values()))["environment"]
    assert {key for key in environment if key.startswith("EAI_AVATAR_")} <= set(ENVIRONMENT) | {"EAI_AVATAR_TOKEN"}
    # What the replica's configuration is, from its environment (the token file is a secret mounted at run time).
    config = RuntimeConfig.load(env={key: v for key, v in environment.items() if key != "EAI_AVATAR_TOKEN_FILE"})
    assert config.store.path.startswith("postgresql://") and config.server.replica_id in replica_ids
    assert config.engines["renderer"] == "triton" and config.triton.url == "triton:8001"
    assert compose["services"]["triton"]["volumes"] == ["./triton-repo:/models:ro"]
