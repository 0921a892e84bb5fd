#!/usr/bin/env python3
"""An example remote reward server for dsarl (service dsarl.proto.Reward in proto/reward.proto).

A stand-in for a model-based judge: for each sample it scores the word overlap (SQuAD-style F1)
between the final answer and the task's reference "answer", and counts the answer's words. Replace
`score_sample` with a call to your judge model.

    python3 examples/rewards/judge_server.py --port 50070
    # prints "judge_server listening on 127.0.0.1:50070"; --port 0 lets the OS pick a free port

and in the job config:

    rewards {
      components { name: "judge" weight: 1
                   params { key: "type" value: "remote" }
                   params { key: "primary" value: "overlap" } }
      remote_addresses: "127.0.0.1:50070"
      call_timeout_s: 30
      max_concurrency: 8
    }

Components per sample: "overlap" in [0, 1] (not applicable without a reference answer) and
"words". Note proto3's default applicable = false: every real value must set applicable=True.

Needs grpcio and protobuf (pip), and protoc (Debian protobuf-compiler) or grpcio-tools to build
the message classes from proto/ at start-up; --stubs DIR uses classes generated beforehand
(protoc -I. --python_out=DIR proto/options.proto proto/config.proto proto/data.proto
proto/reward.proto). --delay and --fail make it slow or broken, to see how dsarl handles that.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTOS = ["proto/options.proto", "proto/config.proto", "proto/data.proto", "proto/reward.proto"]


def load_messages(stubs_dir):
    """Returns the reward_pb2 module and a temporary directory to delete (or None): the classes
    are generated from proto/ unless stubs_dir holds them."""
    generated = None
    if not stubs_dir:
        stubs_dir = generated = tempfile.mkdtemp(prefix="dsarl_judge_pb2_")
        protoc = shutil.which("protoc")
        if protoc:
            cmd = [protoc]
        else:  # grpcio-tools bundles protoc and the well-known .proto files
            import grpc_tools
            cmd = [sys.executable, "-m", "grpc_tools.protoc",
                   "-I" + os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")]
        subprocess.run(cmd + ["-I" + REPO, "--python_out=" + stubs_dir] + PROTOS,
                       check=True, cwd=REPO)
        open(os.path.join(stubs_dir, "proto", "__init__.py"), "w").close()
    sys.path.insert(0, stubs_dir)
    # A "proto" directory in the working directory (the dsarl checkout) may have been imported as
    # a namespace package; forget it so the generated package is found.
    for name in [m for m in sys.modules if m == "proto" or m.startswith("proto.")]:
        del sys.modules[name]
    from proto import reward_pb2
    return reward_pb2, generated


def words(text):
    return re.findall(r"\w+", text.lower())


def score_sample(pb2, prompt, sample):
    """Returns the SampleScore of one sample. Put a judge model here."""
    answer = words(sample.final_answer)
    score = pb2.SampleScore()
    reference = prompt.reference.get("answer")
    if reference is None:
        score.components.add(name="overlap", applicable=False, details="no reference answer")
    else:
        expected = words(reference)
        common = sum((collections.Counter(answer) & collections.Counter(expected)).values())
        f1 = 0.0
        if common:
            precision, recall = common / len(answer), common / len(expected)
            f1 = 2 * precision * recall / (precision + recall)
        score.components.add(name="overlap", value=f1, applicable=True,
                             details="%d common word(s)" % common)
    score.components.add(name="words", value=len(answer), applicable=True)
    return score


def make_handler(pb2, args):
    def score(request, context):
        if args.delay > 0:
            deadline = time.monotonic() + args.delay
            while time.monotonic() < deadline and context.is_active():
                time.sleep(0.01)
        if args.fail:
            context.abort(grpc.StatusCode.INTERNAL, "judge_server started with --fail")
        response = pb2.ScoreResponse()
        for sample in request.samples:
            response.scores.append(score_sample(pb2, request.prompt, sample))
        return response

    # A generic handler needs only the message classes, not generated service stubs.
    return grpc.method_handlers_generic_handler("dsarl.proto.Reward", {
        "Score": grpc.unary_unary_rpc_method_handler(
            score,
            request_deserializer=pb2.ScoreRequest.FromString,
            response_serializer=pb2.ScoreResponse.SerializeToString),
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port chosen by the OS")
    parser.add_argument("--workers", type=int, default=8, help="requests served at once")
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait per request")
    parser.add_argument("--fail", action="store_true", help="fail every request (INTERNAL)")
    parser.add_argument("--stubs", default="", help="directory with generated proto/*_pb2.py")
    parser.add_argument("--token-file", default="",
                        help="require this token on every call (rewards.remote_token_file)")
    args = parser.parse_args()

    pb2, generated = load_messages(args.stubs)
    interceptors = token_interceptor(grpc, args.token_file) if args.token_file else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         interceptors=interceptors)
    server.add_generic_rpc_handlers((make_handler(pb2, args),))
    port = server.add_insecure_port("%s:%d" % (args.host, args.port))
    if port == 0:
        sys.exit("judge_server: cannot listen on %s:%d" % (args.host, args.port))
    server.start()
    print("judge_server listening on %s:%d" % (args.host, port), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()
    if generated:
        shutil.rmtree(generated, ignore_errors=True)


if __name__ == "__main__":
    main()
