# Derivations for the daemon build tests (tests/daemon/build*.test.ts); busybox
# is /bin/sh (sandbox-paths), whose applets run without PATH. trivial, dependent,
# failing, bd, v19 and v20 are written as in the captured worker vectors
# (tests/fixtures/worker), so that the message streams can be compared.
{ nonce ? "", sleepFor ? "3600" }:
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs // (if nonce == "" then { } else { inherit nonce; }));
  script = name: text: mk { inherit name; args = [ "-c" text ]; };
in rec {
  trivial = script "trivial" "echo building trivial; echo hello > $out";
  dependent = script "dependent" "echo using ${trivial}; read x < ${trivial}; echo \"got $x from ${trivial}\" > $out";
  failing = script "failing" "echo about to fail; exit 3";
  bd = script "bd" "echo phase bd; echo bd > $out";
  v19 = script "v19" "echo phase v19; echo v19 > $out";
  v20 = script "v20" "echo phase v20; echo v20 > $out";

  # A chain, several outputs referring to each other, a builtins.toFile input.
  leaf = script "leaf" "echo leaf-line; echo leaf > $out";
  mid = script "mid" "echo mid-line; cat ${leaf} > $out; echo ${leaf} >> $out";
  top = script "top" "echo top-line; mkdir $out; cp ${mid} $out/mid; ln -s ${mid} $out/link";
  multi = mk {
    name = "multi";
    outputs = [ "out" "dev" "lib" ];
    args = [ "-c" "echo multi-line; mkdir $out $dev $lib; echo $dev > $out/dev-ref; echo headers > $dev/h; echo $out > $lib/out-ref" ];
  };
  usesLib = script "uses-lib" "echo uses-lib-line; cat ${multi.lib}/out-ref > $out";
  text = script "text" "echo text-line; cat ${builtins.toFile "input.txt" "hello from toFile\n"} > $out";

  # Failures.
  fail2 = script "fail2" "echo fail2 here; exit 1";
  dep = script "dep" "cat ${failing} > $out";
  silent = script "silent" "echo before; sleep 5; echo after > $out";

  # A builder that runs until it is killed (its sleep is found by its duration).
  slow = script "slow" "echo started; sleep ${sleepFor}; echo done > $out";
  # Much log output (megabytes of lines).
  flood = script "flood" "yes 'a line of log output from the flood builder' | head -c ${sleepFor}000000; echo done > $out";
  # What the builder may run on.
  cpus = script "cpus" "grep Cpus_allowed_list /proc/self/status > $out";
}
