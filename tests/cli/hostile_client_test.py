#!/usr/bin/env python3
"""Hostile clients against a real learner process (dsarl learner on loopback, with a job token).

First `dsarl run` on loopback: its learner refuses every RPC without the job's token by default.

An honest rollout worker trains the job while clients written here with grpcio attack it:
  - no token and a forged token, on every RPC: UNAUTHENTICATED;
  - a second identity submitting and returning the first one's lease: PERMISSION_DENIED / 0
    returned, and the holder still submits it;
  - a lease flood: capped per identity (cluster.max_leases_per_worker);
  - poisoned groups, one per lease (each bad token, array length, mask, log-prob, kept set,
    version, reward, group size and size cap the learner must refuse): INVALID_ARGUMENT naming the
    field, each kept in the quarantine.
After the poison the learner trains further steps with the honest worker's groups; then it is
SIGKILLed and started again, resumes, and finishes. At the end every step trained exactly
prompts_per_step groups, each group once, all of them the honest worker's; the quarantine holds
one record per poisoned submission.

Usage: hostile_client_test.py DSARL_BINARY SOURCE_DIR PYTHON_PROTO_DIR
Exit 77 (CTest: skipped) when grpcio is missing outside CI; a failure under CI=true.
"""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def require_grpc():
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
        return
    except ImportError:
        pass
    # The python3 first on PATH may lack Debian's python3-grpcio; Debian's own interpreter has it.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    what = "python3 with grpcio and protobuf (scripts/setup.sh installs python3-grpcio)"
    if os.environ.get("CI") in ("true", "1"):
        print("FAIL: missing prerequisite (CI=true makes this a failure):", what)
        sys.exit(1)
    print("SKIP: missing prerequisite:", what)
    sys.exit(77)


require_grpc()
import grpc  # noqa: E402

DSARL, SOURCE_DIR, PROTO_DIR = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, PROTO_DIR)
from proto import data_pb2, learner_pb2, model_pb2  # noqa: E402

STEPS = 8
PROMPTS_PER_STEP = 4
G = 4
VOCAB = 320
CONTEXT = 256
CAP = 3
WORK = tempfile.mkdtemp(prefix="dsarl_hostile_")
CFG = os.path.join(SOURCE_DIR, "configs", "quickstart.textproto")
SETS = []
for kv in [f"output_dir={WORK}/job", "name=hostile", "model.d_model=64", "model.n_layers=2",
           "model.intermediate_size=128", f"model.max_position_embeddings={CONTEXT}",
           "envs.categories=arithmetic", "envs.envs_per_category=2", "envs.tasks_per_env=16",
           "envs.max_difficulty=0", f"rollout.group_size={G}", "rollout.max_new_tokens=8",
           "rollout.max_batch=16", f"learner.prompts_per_step={PROMPTS_PER_STEP}",
           f"learner.total_steps={STEPS}", "learner.checkpoint_every=2",
           "learner.lease_timeout_s=5", "learner.max_staleness=2", "learner.lr=1e-4",
           "learner.skip_uniform_groups=false", "learner.max_group_mb=1",
           f"cluster.max_leases_per_worker={CAP}", "sft.steps=0", "eval.num_tasks=0"]:
    SETS += ["--set", kv]
PROCS = []


def fail(msg):
    print("FAIL:", msg)
    for name in ("learner.log", "worker.log"):
        path = os.path.join(WORK, name)
        if os.path.exists(path):
            print(f"--- last lines of {name}")
            print("".join(open(path, errors="replace").readlines()[-20:]))
    cleanup()
    sys.exit(1)


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run(["rm", "-rf", WORK])


def wait_for(limit_s, what, cond):
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            fail(f"{what} (waited {limit_s} s)")
        time.sleep(0.1)


def log_has(text):
    path = os.path.join(WORK, "learner.log")
    return os.path.exists(path) and text in open(path, errors="replace").read()


def dsarl(*args):
    out = subprocess.run([DSARL, *args], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"dsarl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


# ---- the job -------------------------------------------------------------------------------

# The learner's port, held for the whole test by a socket that never listens (SO_REUSEPORT): the
# restarted learner binds it again and no other process can take it in between.
holder = socket.socket()
holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
holder.bind(("127.0.0.1", 0))
PORT = holder.getsockname()[1]
ADDRESS = f"127.0.0.1:{PORT}"

dsarl("envs", "synthesize", "--out", f"{WORK}/job/store", "--categories", "arithmetic",
      "--envs-per-category", "2", "--tasks-per-env", "16", "--max-level", "0")
write_private(f"{WORK}/job.secret", dsarl("token", "new"))
TOKENS = {}
for name in ("honest", "mallory", "eve"):
    TOKENS[name] = dsarl("token", "worker", name, "--token-file", f"{WORK}/job.secret").strip()
    write_private(f"{WORK}/{name}.token", TOKENS[name] + "\n")
write_private(f"{WORK}/other.secret", dsarl("token", "new"))
FORGED = dsarl("token", "worker", "mallory", "--token-file", f"{WORK}/other.secret").strip()


def start_learner():
    log = open(os.path.join(WORK, "learner.log"), "a")
    p = subprocess.Popen([DSARL, "learner", "--config", CFG, *SETS, "--listen", ADDRESS,
                          "--token-file", f"{WORK}/job.secret"], stdout=log, stderr=log)
    PROCS.append(p)
    return p


def start_worker():
    log = open(os.path.join(WORK, "worker.log"), "a")
    env = dict(os.environ, DSARL_TOKEN_FILE=f"{WORK}/honest.token")
    p = subprocess.Popen([DSARL, "rollout", "--config", CFG, *SETS, "--learner", ADDRESS,
                          "--give-up-after", "30"], stdout=log, stderr=log, env=env)
    PROCS.append(p)
    return p


# ---- a client of our own -----------------------------------------------------------------------

class Client:
    """The Learner service by its method names, with grpcio's generic calls."""

    def __init__(self, token):
        self.channel = grpc.insecure_channel(
            ADDRESS, options=[("grpc.max_send_message_length", 256 << 20),
                              ("grpc.max_receive_message_length", 256 << 20),
                              ("grpc.use_local_subchannel_pool", 1)])
        self.metadata = [("authorization", "Bearer " + token)] if token else []

    def _unary(self, method, req, resp_type):
        call = self.channel.unary_unary(f"/dsarl.proto.Learner/{method}",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=resp_type.FromString)
        return call(req, metadata=self.metadata, timeout=30)

    def lease(self, n):
        return self._unary("LeasePrompts", learner_pb2.LeaseRequest(max_prompts=n),
                           learner_pb2.LeaseResponse)

    def give_back(self, ids):
        return self._unary("ReturnLeases", learner_pb2.ReturnLeasesRequest(lease_ids=ids),
                           learner_pb2.ReturnLeasesResponse)

    def submit(self, lease_id, group):
        return self._unary("SubmitGroup",
                           learner_pb2.SubmitGroupRequest(lease_id=lease_id, group=group),
                           learner_pb2.SubmitGroupResponse)

    def status(self):
        return self._unary("GetStatus", learner_pb2.StatusRequest(), learner_pb2.StatusResponse)

    def weights(self):
        call = self.channel.unary_stream("/dsarl.proto.Learner/GetWeights",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=model_pb2.WeightsChunk.FromString)
        return sum(len(c.data) for c in call(learner_pb2.GetWeightsRequest(), timeout=30,
                                             metadata=self.metadata))


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


def expect(fn, code, what, mention=None):
    got, details = code_of(fn)
    if got != code:
        fail(f"{what}: expected {code.name}, got {got.name} ({details})")
    if mention is not None and mention not in details:
        fail(f"{what}: the error does not name '{mention}': {details}")
    return details


def group_for(lease, version):
    """A well-formed group for `lease`: what an honest worker's group looks like to intake."""
    g = data_pb2.Group(prompt_id=lease.prompt.id, attempt=lease.attempt)
    for i in range(G):
        n = 12
        t = g.trajectories.add(prompt_id=lease.prompt.id, sample_index=i, reward=float(i % 2),
                               finish_reason=data_pb2.FINISH_EOS, num_turns=1)
        t.token_ids.extend([(7 * k + i) % VOCAB for k in range(n)])
        t.loss_mask.extend([0] * 6 + [1] * (n - 6))
        t.behaviour_logprobs.extend([0.0] * 6 + [-1.5] * (n - 6))
        t.policy_versions.extend([0] * 6 + [version] * (n - 6))
    return g


def poison_variants():
    """(name, what the error must name, a change that makes a well-formed group bad)."""
    def traj(k=1):
        return lambda g: g.trajectories[k]

    def set_token(value):
        return lambda g: g.trajectories[1].token_ids.__setitem__(8, value)

    def long_sequence(g):
        t = g.trajectories[0]
        extra = CONTEXT + 10 - len(t.token_ids)
        t.token_ids.extend([5] * extra)
        t.loss_mask.extend([1] * extra)
        t.behaviour_logprobs.extend([-1.0] * extra)
        t.policy_versions.extend([t.policy_versions[-1]] * extra)

    def one_token(g):
        t = g.trajectories[2]
        for field in (t.token_ids, t.loss_mask, t.behaviour_logprobs, t.policy_versions):
            del field[1:]

    def many_versions(g):
        g.trajectories[3].policy_versions.extend([0] * 1_000_000)

    def big_group(g):
        for i in range(G, 1000):
            t = g.trajectories.add()
            t.CopyFrom(g.trajectories[0])
            t.sample_index = i

    def oversized(g):
        g.trajectories[0].infra_error = ""
        g.trajectories[0].reward_components.add(name="x", value=0.0, weight=0.0,
                                                details="x" * (2 << 20))

    def kept_set_without_token(g):
        t = g.trajectories[1]
        for k in range(len(t.token_ids)):
            ks = t.kept_sets.add()
            ks.ids.extend([t.token_ids[k], (t.token_ids[k] + 1) % VOCAB])
        del t.kept_sets[9].ids[:]
        t.kept_sets[9].ids.extend([(t.token_ids[9] + 3) % VOCAB])

    return [
        ("token outside the vocabulary", "token_ids", set_token(VOCAB)),
        ("negative token", "token_ids", set_token(-4)),
        ("loss mask shorter than the tokens", "loss_mask",
         lambda g: g.trajectories[1].loss_mask.__delitem__(-1)),
        ("log-probs longer than the tokens", "behaviour_logprobs",
         lambda g: g.trajectories[2].behaviour_logprobs.append(-1.0)),
        ("NaN behaviour log-prob", "behaviour_logprobs",
         lambda g: g.trajectories[1].behaviour_logprobs.__setitem__(9, math.nan)),
        ("positive behaviour log-prob", "behaviour_logprobs",
         lambda g: g.trajectories[1].behaviour_logprobs.__setitem__(9, 0.5)),
        ("one-token sample", "trajectories[2]", one_token),
        ("loss_mask[0] = 1", "loss_mask", lambda g: g.trajectories[0].loss_mask.__setitem__(0, 1)),
        ("no policy token", "loss_mask",
         lambda g: [g.trajectories[3].loss_mask.__setitem__(k, 0) for k in range(12)]),
        ("longer than the context", "trajectories[0]", long_sequence),
        ("a million policy versions", "policy_versions", many_versions),
        ("a version from the future", "policy_versions",
         lambda g: g.trajectories[1].policy_versions.__setitem__(10, 1 << 62)),
        ("kept set without its token", "kept_sets", kept_set_without_token),
        ("NaN reward", "reward", lambda g: setattr(g.trajectories[0], "reward", math.nan)),
        ("infinite reward", "reward", lambda g: setattr(g.trajectories[1], "reward", math.inf)),
        ("reward of 1e300", "reward", lambda g: setattr(g.trajectories[2], "reward", 1e300)),
        ("NaN reward component", "reward_components",
         lambda g: g.trajectories[0].reward_components.add(name="v", value=math.nan, weight=1.0)),
        ("a group of 1000 trajectories", "trajectories", big_group),
        ("a 2 MiB group (cap 1 MiB)", "bytes", oversized),
        ("a group short of G", "trajectories", lambda g: g.trajectories.__delitem__(-1)),
    ]


# ---- the attacks ---------------------------------------------------------------------------

def attack_without_credentials(version):
    for who, token in (("no token", None), ("a token of another job's secret", FORGED),
                       ("a garbage token", "mallory.00ff"), ("the bare name", "mallory")):
        c = Client(token)
        bogus = learner_pb2.Lease(lease_id="0" * 32)
        for name, fn in (("LeasePrompts", lambda: c.lease(4)),
                         ("ReturnLeases", lambda: c.give_back(["0" * 32])),
                         ("SubmitGroup", lambda: c.submit("0" * 32, group_for(bogus, version))),
                         ("GetWeights", c.weights),
                         ("GetStatus", c.status)):
            expect(fn, grpc.StatusCode.UNAUTHENTICATED, f"{name} with {who}")
    print("ok: every RPC refused UNAUTHENTICATED without a valid token (4 kinds x 5 RPCs)")


def attack_leases(mallory, eve):
    first = mallory.lease(100)
    if not 1 <= len(first.leases) <= CAP:
        fail(f"a flood of 100 got {len(first.leases)} leases; the cap is {CAP}")
    again = mallory.lease(100)
    if len(first.leases) + len(again.leases) > CAP:
        fail(f"a second flood went past the cap: {len(first.leases)} + {len(again.leases)}")
    held = list(first.leases) + list(again.leases)
    if any(len(l.lease_id) != 32 for l in held):
        fail(f"lease ids are not 128-bit hex: {[l.lease_id for l in held]}")
    print(f"ok: a flood of 2 x 100 got {len(held)} leases (cap {CAP})")
    victim = held[0]
    expect(lambda: eve.submit(victim.lease_id, group_for(victim, first.policy_version)),
           grpc.StatusCode.PERMISSION_DENIED, "submitting another identity's lease")
    if eve.give_back([victim.lease_id]).returned != 0:
        fail("another identity returned mallory's lease")
    wrong = group_for(victim, first.policy_version)
    wrong.prompt_id += 1
    for t in wrong.trajectories:
        t.prompt_id = wrong.prompt_id
    code_of(lambda: mallory.submit(victim.lease_id, wrong))  # a mismatched prompt
    if mallory.give_back([victim.lease_id]).returned != 1:
        fail("the holder could not return its lease after the hijack and a mismatched submit")
    print("ok: hijacked submit PERMISSION_DENIED, spoofed return returned 0, the lease stayed "
          "with its holder")
    return [l.lease_id for l in held[1:]]


def attack_poison(mallory):
    rejected = 0
    for name, field, spoil in poison_variants():
        # The honest worker holds most slots (learner.max_in_flight): wait for one to free.
        deadline = time.monotonic() + 60
        resp = mallory.lease(1)
        while not resp.leases and time.monotonic() < deadline:
            time.sleep(0.05)
            resp = mallory.lease(1)
        if not resp.leases:
            fail(f"no lease for the poison '{name}' in 60 s")
        lease = resp.leases[0]
        g = group_for(lease, resp.policy_version)
        spoil(g)
        details = expect(lambda: mallory.submit(lease.lease_id, g),
                         grpc.StatusCode.INVALID_ARGUMENT, f"poison '{name}'", field)
        rejected += 1
        print(f"ok: {name}: INVALID_ARGUMENT ({details[:110]})")
    return rejected


def attack_dsarl_run():
    """`dsarl run` on loopback: its learner wants the job's token on every RPC, by default."""
    log_path = os.path.join(WORK, "run.log")
    log = open(log_path, "a")
    p = subprocess.Popen([DSARL, "run", "--config", CFG, *SETS, "--set", f"output_dir={WORK}/run",
                          "--set", "learner.total_steps=1000"], stdout=log, stderr=log)
    PROCS.append(p)
    port = []

    def listening():
        text = open(log_path, errors="replace").read()
        marker = "listening on port "
        if marker in text:
            port.append(int(text.split(marker)[1].split()[0]))
        return bool(port) or p.poll() is not None

    wait_for(180, "dsarl run's learner did not listen", listening)
    if not port:
        fail("dsarl run exited: " + open(log_path, errors="replace").read()[-2000:])
    global ADDRESS
    saved, ADDRESS = ADDRESS, f"127.0.0.1:{port[0]}"
    secret = f"{WORK}/run/job.secret"
    if not os.path.exists(secret) or os.stat(secret).st_mode & 0o077:
        fail(f"dsarl run left no private job secret at {secret}")
    for who, token in (("no token", None), ("another job's token", FORGED)):
        c = Client(token)
        for name, fn in (("LeasePrompts", lambda: c.lease(1)),
                         ("ReturnLeases", lambda: c.give_back(["0" * 32])),
                         ("SubmitGroup", lambda: c.submit("0" * 32, data_pb2.Group())),
                         ("GetWeights", c.weights), ("GetStatus", c.status)):
            expect(fn, grpc.StatusCode.UNAUTHENTICATED, f"dsarl run's {name} with {who}")
    own = dsarl("token", "worker", "probe", "--token-file", secret).strip()
    Client(own).status()  # its own token works
    ADDRESS = saved
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    print("ok: dsarl run's learner refuses every RPC without its job's token (2 kinds x 5 RPCs)")


def main():
    attack_dsarl_run()
    learner = start_learner()
    wait_for(120, "the learner did not listen", lambda: log_has(f"learner listening on {PORT}"))
    mallory, eve = Client(TOKENS["mallory"]), Client(TOKENS["eve"])
    version = mallory.status().policy_version
    attack_without_credentials(version)
    spare = attack_leases(mallory, eve)
    start_worker()
    wait_for(300, "step 1 never came", lambda: log_has(f"step 1/{STEPS}"))
    rejected = attack_poison(mallory)
    mallory.give_back(spare)
    status = mallory.status()
    if status.groups_rejected != rejected:
        fail(f"groups_rejected is {status.groups_rejected}, {rejected} poisons were sent")
    after = status.step
    wait_for(300, f"no step after the poison (step {after})",
             lambda: log_has(f"step {after + 1}/{STEPS}"))
    print(f"ok: {rejected} poisoned groups refused; the learner trained step {after + 1} after them")
    wait_for(300, "step 4 never came", lambda: log_has(f"step 4/{STEPS}"))
    learner.send_signal(signal.SIGKILL)
    learner.wait()
    print("ok: learner SIGKILLed after step 4")
    learner = start_learner()
    wait_for(120, "no resume", lambda: log_has("resumed"))
    print("ok: learner resumed")
    wait_for(400, "the run did not finish", lambda: log_has(f"learner finished at step {STEPS}"))
    learner.send_signal(signal.SIGKILL)
    learner.wait()
    check_store(rejected)


def check_store(rejected):
    store = f"{WORK}/job/store"
    dsarl("store", "export", store, "--cf", "groups", "--format", "jsonl", "--out",
          f"{WORK}/groups.jsonl")
    rows = [json.loads(l) for l in open(f"{WORK}/groups.jsonl")]
    keys = {}
    per_step = {}
    for r in rows:
        key = (int(r.get("prompt_id", 0)), int(r.get("attempt", 0)))
        keys[key] = keys.get(key, 0) + 1
        per_step[int(r.get("step", 0))] = per_step.get(int(r.get("step", 0)), 0) + 1
    dup = [k for k, n in keys.items() if n > 1]
    bad = {s: per_step.get(s, 0) for s in range(1, STEPS + 1)
           if per_step.get(s, 0) != PROMPTS_PER_STEP}
    workers = {r.get("worker_id", "") for r in rows}
    print(f"groups stored: {len(rows)}; trained per step: {dict(sorted(per_step.items()))}")
    if dup or bad:
        fail(f"duplicate groups {dup}; steps without exactly {PROMPTS_PER_STEP} groups {bad}")
    if workers != {"honest"}:
        fail(f"stored groups from {workers}: only the honest worker's may be stored")
    dump = dsarl("store", "dump", store, "--cf", "quarantine")
    stats = dsarl("store", "stats", store)
    line = [l for l in stats.splitlines() if "quarantine" in l]
    if not line or str(rejected) not in line[0]:
        fail(f"the store's quarantine count is not {rejected}: {line} ({dump[:300]})")
    print(f"ok: every group stored once, every step trained exactly {PROMPTS_PER_STEP}, all from "
          f"the honest worker; {line[0].strip()}")
    print("hostile client test passed")


try:
    main()
finally:
    cleanup()
