# Gatehouse developer tasks. `make help` lists them.
PG ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
# staticcheck, pinned; `go run` fetches it through the module proxy.
STATICCHECK ?= go run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# soak's sampled time on each database (`make soak DURATION=3m`).
DURATION ?= 30m

.PHONY: help run test test-pg test-e2e screenshots bench soak fuzz lint staticcheck check

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## run the demo (SQLite in ./gatehouse-data)
	go run ./cmd/gatehouse serve --demo

test: ## unit and SQLite tests
	go test ./...

test-pg: ## tests including the PostgreSQL conformance suite
	GATEHOUSE_TEST_POSTGRES='$(PG)' go test ./...

test-e2e: ## browser tests (needs chromium)
	GATEHOUSE_E2E=1 go test -count=1 -v ./internal/e2e/

screenshots: ## refresh docs/screenshots/ from the browser test
	GATEHOUSE_E2E=1 GATEHOUSE_SCREENSHOTS=1 go test -count=1 -run TestE2EBrowser ./internal/e2e/

bench: ## hot-path benchmarks
	go test -run '^$$' -bench . -benchmem ./internal/secret/ ./internal/verify/ ./internal/gateway/
	go test -run '^$$' -bench Issuance ./internal/oauth2/

soak: ## DURATION (30m) of mixed load on SQLite, then PostgreSQL: CSV, PNG and verdicts in soak/ (not in CI)
	@mkdir -p soak
	go build -o soak/gatehouse ./cmd/gatehouse
	@s=0; \
	soak/gatehouse soak --duration $(DURATION) --csv soak/sqlite.csv --png soak/sqlite.png > soak/sqlite.txt || s=1; \
	cat soak/sqlite.txt; \
	soak/gatehouse --database '$(PG)' soak --duration $(DURATION) --csv soak/postgres.csv --png soak/postgres.png > soak/postgres.txt || s=1; \
	cat soak/postgres.txt; \
	exit $$s

fuzz: ## fuzz the parsers briefly (counts, not durations: golang/go#75804)
	go test -run '^$$' -fuzz FuzzParseToken -fuzztime 600000x ./internal/secret/
	go test -run '^$$' -fuzz FuzzParsePrefix -fuzztime 60000x .
	go test -run '^$$' -fuzz FuzzParseAuthorization -fuzztime 90000x ./internal/oauth1/
	go test -run '^$$' -fuzz FuzzBaseString -fuzztime 24000x ./internal/oauth1/
	go test -run '^$$' -fuzz FuzzSafeRedirect -fuzztime 90000x ./internal/console/
	go test -run '^$$' -fuzz FuzzParseRoutes -fuzztime 60000x ./internal/gateway/
	go test -run '^$$' -fuzz FuzzParseRequest -fuzztime 120000x ./internal/verify/
	go test -run '^$$' -fuzz FuzzAppendResponse -fuzztime 120000x ./internal/verify/
	go test -run '^$$' -fuzz FuzzCredential -fuzztime 120000x ./internal/httpx/
	go test -run '^$$' -fuzz FuzzParseCursor -fuzztime 120000x .

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet ./...
	$(STATICCHECK) ./...

staticcheck: ## staticcheck ./...
	$(STATICCHECK) ./...

check: lint ## everything CI runs
	bash .ci/run
