# Derivations for the live build tests other than interop.nix: failures,
# --check/--repair, scheduling, build users and logs. `nonce` makes fresh
# derivations for tests that must build again; `counter` is a directory
# (in sandbox-paths) where builders leave a trace of each run.
{ nonce ? "", counter ? "/counter" }:
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
  script = name: text: mk { inherit name; args = [ "-c" text ]; nonce = nonce; };
in rec {
  plain = script "plain" "echo hello > $out";
  chain2 = script "chain2" "echo ${plain} > $out";

  # Failures: each must fail in bunix and in Nix with the same message.
  allowedViolated = mk { name = "allowed-violated"; args = [ "-c" "echo ${plain} ${chain2} > $out" ]; allowedReferences = [ chain2 ]; };
  disallowedReqViolated = mk { name = "disallowed-req-violated"; args = [ "-c" "echo ${chain2} > $out" ]; disallowedRequisites = [ plain ]; };
  structuredViolated = mk {
    name = "structured-violated";
    __structuredAttrs = true;
    args = [ "-c" "out=$(sed -n 's/.*\"outputs\":{\"out\":\"\\([^\"]*\\)\".*/\\1/p' .attrs.json); echo ${plain} > $out" ];
    outputChecks.out.allowedRequisites = [ ];
  };
  hashMismatch = mk { name = "hash-mismatch"; outputHashAlgo = "sha256"; outputHash = builtins.hashString "sha256" "expected\n"; args = [ "-c" "echo actual > $out" ]; };
  hashMismatchRecursive = mk { name = "hash-mismatch-rec"; outputHashMode = "recursive"; outputHashAlgo = "sha512"; outputHash = builtins.hashString "sha512" "x"; args = [ "-c" "mkdir $out" ]; };
  flatDirectory = mk { name = "flat-directory"; outputHashAlgo = "sha256"; outputHash = builtins.hashString "sha256" ""; args = [ "-c" "mkdir $out" ]; };
  flatExecutable = mk { name = "flat-executable"; outputHashAlgo = "sha256"; outputHash = builtins.hashString "sha256" ""; args = [ "-c" ": > $out; chmod +x $out" ]; };
  missingOutput = mk { name = "missing-output"; outputs = [ "out" "dev" ]; args = [ "-c" "echo only out > $out" ]; };
  exitCode = mk { name = "exit-code"; args = [ "-c" "echo about to fail; exit 3" ]; };

  # --check and --repair.
  clock = script "clock" "echo run >> ${counter}/clock; date +%s%N > $out; cat /proc/uptime >> $out";
  steady = script "steady" "mkdir $out; echo steady > $out/file; ln -s file $out/link";
  steadyUser = script "steady-user" "echo ${steady} > $out";

  # Scheduling: independent derivations; failing ones; builders that log
  # when they start and end; a chain whose builders leave one file per run.
  independent = builtins.listToAttrs (map (i: { name = "i${toString i}"; value = script "independent-${toString i}" "echo ${toString i} > $out"; }) [ 1 2 3 4 ]);
  failing = script "failing" "echo failing on purpose; exit 1";
  failing2 = script "failing2" "echo failing too; exit 2";
  overlap = builtins.listToAttrs (map (i: { name = "o${toString i}"; value = script "overlap-${toString i}" "(umask 0; echo start >> ${counter}/events); sleep 1; (umask 0; echo end >> ${counter}/events); echo > $out"; }) [ 1 2 3 4 ]);
  trace = name: text: script name "mktemp ${counter}/${name}.XXXXXX > /dev/null; sleep 0.3; ${text}";
  traced1 = trace "traced1" "echo traced1 > $out";
  traced2 = trace "traced2" "echo ${traced1} > $out";
  traced3 = trace "traced3" "echo ${traced2} > $out";
  tracedMulti = mk { name = "traced-multi"; outputs = [ "out" "dev" ]; args = [ "-c" "echo ${traced3} > $out; echo dev > $dev" ]; inherit nonce; };

  # Build users: who the builder runs as.
  whoami = script "whoami" "mkdir $out; echo $(id -u) $(id -g) $(id -G) > $out/ids; stat -c '%u %g %a' /build > $out/build-dir; mkdir sub; : > sub/f";
  # Two at once must get different build users.
  whoamiSlow = builtins.listToAttrs (map (i: { name = "w${toString i}"; value = script "whoami-slow-${toString i}" "sleep 1; id -u > $out"; }) [ 1 2 ]);

  # Logs.
  chatty = script "chatty" ''
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo "line $i"; done
    printf '\033[31mred\033[0m \033]0;title\007 \033[2Jcleared \033[1;32mbold green\033[0m\n'
    echo "to stderr" >&2
    echo done > $out
  '';
  chattyFailure = script "chatty-failure" ''
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo "line $i"; done
    printf '\033[31mred\033[0m \033]0;title\007 \033[2Jcleared \033[1;32mbold green\033[0m\n'
    exit 1
  '';
}
