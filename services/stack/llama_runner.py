"""`python -m services.stack.llama_runner`: llama.cpp's own HTTP server (the xllamacpp wheel)
serving one GGUF file, until SIGTERM. The stack supervisor starts it like any other server."""

import argparse
import signal
import threading
from importlib import metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="path of the .gguf file")
    parser.add_argument("--alias", required=True, help="the model id /v1/models lists")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=8192)
    args = parser.parse_args()

    import xllamacpp as xlc  # imported late: the wheel's 100 MB library loads only here

    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx
    # One KV cache for all slots: any one request may use the whole context, and a prefix
    # computed for one council member is found by the next.
    params.kv_unified = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.endpoint_metrics = True
    params.endpoint_slots = True
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = xlc.Server(params)
    print(f"xllamacpp {metadata.version('xllamacpp')} serving {args.alias} on {server.listening_address}", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
