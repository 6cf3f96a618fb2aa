package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitFile reads a systemd unit: section → key → values, in order.
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string]map[string][]string{}
	var section string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: not a key=value line in a section: %q", path, line)
			}
			unit[section][k] = append(unit[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return unit
}

// TestSystemdUnit: deploy/gatehouse.service runs `gatehouse serve` as a
// dynamic user whose only writable place is its state directory, with no
// capabilities, the system-service system calls and the address families
// a server needs; its settings come from an optional environment file.
// (.ci/run also runs systemd-analyze verify and security on it.)
func TestSystemdUnit(t *testing.T) {
	unit := unitFile(t, "../../deploy/gatehouse.service")
	svc := unit["Service"]
	for key, want := range map[string]string{
		"DynamicUser":             "yes",
		"StateDirectory":          "gatehouse",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
		"EnvironmentFile":         "-/etc/gatehouse/env",
		"UMask":                   "0077",
		"WorkingDirectory":        "/var/lib/gatehouse",
	} {
		if got, ok := svc[key]; !ok || len(got) != 1 || got[0] != want {
			t.Errorf("[Service] %s = %q, want exactly %q", key, got, want)
		}
	}
	if got := svc["SystemCallFilter"]; len(got) == 0 || got[0] != "@system-service" {
		t.Errorf("SystemCallFilter = %q, want @system-service first", got)
	}
	if got := svc["ExecStart"]; len(got) != 1 || !strings.HasSuffix(got[0], "/gatehouse serve") {
		t.Errorf("ExecStart = %q, want …/gatehouse serve", got)
	}
	// The database is in the state directory; the key is not (it comes
	// from the environment file), so a backup of one is not of the other.
	if env := svc["Environment"]; !slices.Contains(env, "GATEHOUSE_DATABASE_URL=sqlite:/var/lib/gatehouse/gatehouse.db") {
		t.Errorf("Environment = %q, want the database in the state directory", env)
	}
	for _, env := range svc["Environment"] {
		if strings.HasPrefix(env, "GATEHOUSE_SECRET_KEY") {
			t.Errorf("the unit holds a secret: %s", env)
		}
	}
	if got := unit["Install"]["WantedBy"]; !slices.Equal(got, []string{"multi-user.target"}) {
		t.Errorf("WantedBy = %q", got)
	}
}

// dockerfile reads a Dockerfile's instructions (continuation lines
// joined): each is its upper-case keyword and its arguments.
func dockerfile(t *testing.T, path string) [][2]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		kw, args, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(kw), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// TestDockerfile: the image is built in a golang stage without cgo, runs
// on distroless static as nonroot, checks its health with the binary's own
// healthcheck (distroless has no shell or curl), keeps its state in a
// volume, and the build context leaves out the repository and local data.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t, "../../Dockerfile")
	var froms, users, healthchecks, entrypoints []string
	var builds []string
	finalStage := false
	var final [][2]string
	for _, in := range ins {
		switch in[0] {
		case "FROM":
			froms = append(froms, in[1])
			finalStage = !strings.Contains(in[1], " AS ")
		case "USER":
			users = append(users, in[1])
		case "HEALTHCHECK":
			healthchecks = append(healthchecks, in[1])
		case "ENTRYPOINT":
			entrypoints = append(entrypoints, in[1])
		case "RUN":
			if strings.Contains(in[1], "go build") {
				builds = append(builds, in[1])
			}
		}
		if finalStage {
			final = append(final, in)
		}
	}
	if len(froms) != 2 || !regexp.MustCompile(`^golang:[0-9.]+(-\w+)? AS build$`).MatchString(froms[0]) ||
		froms[1] != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("FROM = %q, want a golang build stage and gcr.io/distroless/static-debian12:nonroot", froms)
	}
	if len(builds) != 1 || !strings.Contains(builds[0], "CGO_ENABLED=0") || !strings.Contains(builds[0], "./cmd/gatehouse") {
		t.Errorf("go build = %q, want one CGO_ENABLED=0 build of ./cmd/gatehouse", builds)
	}
	if len(final) == 0 {
		t.Fatal("no final stage")
	}
	if !slices.Equal(users, []string{"nonroot"}) {
		t.Errorf("USER = %q, want nonroot", users)
	}
	if len(healthchecks) != 1 {
		t.Fatalf("HEALTHCHECK = %q, want one", healthchecks)
	}
	_, cmd, ok := strings.Cut(healthchecks[0], "CMD ")
	var argv []string
	if !ok || json.Unmarshal([]byte(cmd), &argv) != nil || !slices.Equal(argv, []string{"/gatehouse", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q, want CMD [\"/gatehouse\", \"healthcheck\"] (exec form: no shell in distroless)", healthchecks[0])
	}
	var ep []string
	if len(entrypoints) != 1 || json.Unmarshal([]byte(entrypoints[0]), &ep) != nil || !slices.Equal(ep, []string{"/gatehouse"}) {
		t.Errorf("ENTRYPOINT = %q, want [\"/gatehouse\"]", entrypoints)
	}
	// The subcommands the image runs exist.
	for _, sub := range []string{"healthcheck", "serve"} {
		if c, _, err := newRootCmd(nil, nil, nil).Find([]string{sub}); err != nil || c.Name() != sub {
			t.Errorf("the image runs `gatehouse %s`, which does not exist: %v", sub, err)
		}
	}
	text := func(kw string) string {
		var s []string
		for _, in := range final {
			if in[0] == kw {
				s = append(s, in[1])
			}
		}
		return strings.Join(s, "\n")
	}
	if env := text("ENV"); !strings.Contains(env, "GATEHOUSE_DATABASE_URL=sqlite:/var/lib/gatehouse/") || !strings.Contains(env, "GATEHOUSE_ADDR=0.0.0.0:") ||
		strings.Contains(env, "GATEHOUSE_SECRET_KEY") {
		t.Errorf("ENV = %q, want the database in the volume, a listener for the published port, no secret", env)
	}
	if v := text("VOLUME"); !strings.Contains(v, "/var/lib/gatehouse") {
		t.Errorf("VOLUME = %q, want /var/lib/gatehouse", v)
	}

	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ignore), "\n")
	for _, want := range []string{".git", "**/gatehouse-data", "**/*.db", "**/secret.key"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}

// TestSystemdAnalyze runs systemd-analyze verify on the unit where it
// exists (as .ci/run does): it must print nothing, not even a warning.
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil || testing.Short() {
		t.Skip("no systemd-analyze")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gatehouse")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("../../deploy/gatehouse.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's program exists.
	path := filepath.Join(dir, "gatehouse.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/gatehouse", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
