# Shortcuts; each target is one documented command.
.PHONY: test bench bench-quick demo

test:  ## lint, type-check and run the whole test suite
	bash scripts/test

bench:  ## full benchmark run against the peers; writes bench/RESULTS.md (~35 min on 2 cores)
	.venv/bin/python -m bench --measures callgrind,db,te,rw,process,http,http_db

bench-quick:  ## every benchmark app answers every endpoint correctly (seconds)
	.venv/bin/python -m bench --quick

demo:  ## serve the demo app on http://127.0.0.1:8000
	.venv/bin/python -m examples.demo
