#!/usr/bin/env python3
"""An environment served over gRPC from Python (proto/env.proto, service Environment).

Category "shelf_count": each environment is a warehouse whose shelves hold some number of boxes
(from the environment's seed); a task asks how many boxes are on 1 to 3 named shelves (level 0 to
2), and the tool `count_boxes` reads one shelf. dsarl talks to it like any environment:

    python3 examples/remote_env/env_server.py --port 50051 --proto-dir build/python
    dsarl envs synthesize --out store --remote 127.0.0.1:50051 --categories shelf_count

--proto-dir is where the Python modules of dsarl's protos are (CMake writes them to
BUILD/python/proto/*_pb2.py); only grpcio and protobuf are needed (no grpc_tools: the service is
registered with a generic handler). The server prints "listening on HOST:PORT" once it serves;
--port 0 picks a free port.

Test hooks (used by tests/envs/remote_test.cc): an environment whose spec has params
fault=hang sleeps in Step past any deadline; fault=die exits the process in Step.
"""

import argparse
import concurrent.futures
import os
import random
import sys
import threading
import time
import uuid

SHELVES = 10
TOP_LEVEL = 2


def build_handlers(grpc, env_pb2):
    episodes = {}  # episode id -> (spec, answer)
    lock = threading.Lock()

    def warehouse(spec):
        rng = random.Random(spec.seed)
        return {f"{chr(ord('A') + i)}{rng.randrange(1, 10)}": rng.randrange(0, 50)
                for i in range(SHELVES)}

    def describe(request, context):
        return env_pb2.DescribeResponse(name="shelf_count_server", version="1.0",
                                        categories=["shelf_count"], top_level=TOP_LEVEL)

    def reset(request, context):
        if request.spec.category != "shelf_count":
            context.abort(grpc.StatusCode.NOT_FOUND, f"no category {request.spec.category}")
        if not 0 <= request.level <= TOP_LEVEL:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"level {request.level} out of range")
        shelves = warehouse(request.spec)
        rng = random.Random(request.seed * 31 + request.level)
        names = rng.sample(sorted(shelves), request.level + 1)
        answer = sum(shelves[n] for n in names)
        resp = env_pb2.ResetResponse(episode_id=uuid.uuid4().hex)
        resp.task.system = "Count boxes with the tool, then reply with only the total."
        resp.task.user = f"How many boxes are on shelves {', '.join(names)} together?"
        tool = resp.task.tools.add(name="count_boxes", description="Boxes on one shelf.")
        tool.parameters.add(name="shelf", type="string", description="shelf name, e.g. B4",
                            required=True)
        resp.task.reference["answer"] = str(answer)
        resp.task.reference["match"] = "integer"
        round_ = resp.solution.add()
        for n in names:
            round_.calls.add(name="count_boxes", arguments={"shelf": n})
        resp.solution_answer = str(answer)
        with lock:
            episodes[resp.episode_id] = (request.spec, answer)
        return resp

    def episode(context, episode_id):
        with lock:
            found = episodes.get(episode_id)
        if found is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no episode {episode_id}")
        return found

    def step(request, context):
        spec, _ = episode(context, request.episode_id)
        fault = spec.params.get("fault", "")
        if fault == "hang":
            time.sleep(3600)
        if fault == "die":
            os._exit(3)
        shelves = warehouse(spec)
        resp = env_pb2.StepResponse()
        for call in request.calls:
            shelf = call.arguments.get("shelf")
            if call.name != "count_boxes":
                resp.results.add(output="error: the only tool is count_boxes", is_error=True)
            elif shelf not in shelves or len(call.arguments) != 1:
                resp.results.add(output="error: no such shelf", is_error=True)
            else:
                resp.results.add(output=str(shelves[shelf]))
        return resp

    def verify(request, context):
        _, answer = episode(context, request.episode_id)
        given = request.final_answer.strip().rstrip(".")
        ok = given.lstrip("-").isdigit() and int(given) == answer
        return env_pb2.VerifyResponse(score=1.0 if ok else 0.0, details=f"expected {answer}")

    def close(request, context):
        with lock:
            episodes.pop(request.episode_id, None)
        return env_pb2.CloseResponse()

    def unary(fn, req, resp):
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=req.FromString, response_serializer=resp.SerializeToString)

    return grpc.method_handlers_generic_handler("dsarl.proto.Environment", {
        "Describe": unary(describe, env_pb2.DescribeRequest, env_pb2.DescribeResponse),
        "Reset": unary(reset, env_pb2.ResetRequest, env_pb2.ResetResponse),
        "Step": unary(step, env_pb2.StepRequest, env_pb2.StepResponse),
        "Verify": unary(verify, env_pb2.VerifyRequest, env_pb2.VerifyResponse),
        "Close": unary(close, env_pb2.CloseRequest, env_pb2.CloseResponse),
    })


def token_interceptor(grpc, token_file):
    """Refuses (UNAUTHENTICATED) every call whose "authorization" metadata is not "Bearer TOKEN",
    TOKEN being the first line of `token_file` (what dsarl sends with *.remote_token_file)."""
    import hmac
    with open(token_file) as f:
        expected = ("Bearer " + f.readline().strip()).encode()

    def refuse(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token")

    class TokenCheck(grpc.ServerInterceptor):
        def intercept_service(self, continuation, details):
            got = dict(details.invocation_metadata or ()).get("authorization", "")
            if hmac.compare_digest(got.encode(), expected):
                return continuation(details)
            return grpc.unary_unary_rpc_method_handler(refuse)

    return [TokenCheck()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--proto-dir", required=True,
                        help="directory holding proto/env_pb2.py (BUILD/python)")
    parser.add_argument("--token-file", default="",
                        help="require this token on every call (envs.remote_token_file)")
    args = parser.parse_args()
    sys.path.insert(0, args.proto_dir)
    import grpc  # noqa: E402  (after the path is set, like the generated modules)
    from proto import env_pb2  # noqa: E402

    interceptors = token_interceptor(grpc, args.token_file) if args.token_file else []
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8),
                         interceptors=interceptors)
    server.add_generic_rpc_handlers((build_handlers(grpc, env_pb2),))
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    if port == 0:
        sys.exit(f"cannot listen on {args.host}:{args.port}")
    server.start()
    print(f"listening on {args.host}:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
