# Derivations for the build interop tests (tests/build/interop*.live.test.ts):
# busybox is /bin/sh (sandbox-paths), whose applets run without PATH.
# The recursive fixed-output hashes are computed by the test with nix-hash.
{ recDirSha256 ? "", recDirSha1 ? "", recDirSha512 ? "", recFileSha256 ? "", nonce ? "" }:
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
  script = name: text: mk { inherit name; args = [ "-c" text ]; };
  # What recDir* builds; the test makes the same tree to hash it.
  recTree = ''
    mkdir $out $out/sub
    echo data > $out/file
    printf '#!/bin/sh\necho hi\n' > $out/exe
    chmod +x $out/exe
    ln -s file $out/link
    echo nested > $out/sub/n
  '';
  flatText = "flat content\n";
in rec {
  plain = script "plain" "echo hello > $out";

  # out refers to dev, lib refers to out (and so to dev).
  multi = mk {
    name = "multi";
    outputs = [ "out" "dev" "lib" ];
    args = [ "-c" ''
      mkdir -p $out $dev $lib
      echo $dev > $out/dev-ref
      echo $out > $lib/out-ref
      echo "headers" > $dev/h
    '' ];
  };

  foFlatSha256 = mk { name = "fo-flat-sha256"; outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = builtins.hashString "sha256" flatText; args = [ "-c" "printf 'flat content\\n' > $out" ]; };
  foFlatSha1 = mk { name = "fo-flat-sha1"; outputHashAlgo = "sha1"; outputHash = builtins.hashString "sha1" flatText; args = [ "-c" "printf 'flat content\\n' > $out" ]; };
  foFlatSha512 = mk { name = "fo-flat-sha512"; outputHashAlgo = "sha512"; outputHash = builtins.hashString "sha512" flatText; args = [ "-c" "printf 'flat content\\n' > $out" ]; };
  foRecSha256 = mk { name = "fo-rec-sha256"; outputHashMode = "recursive"; outputHashAlgo = "sha256"; outputHash = recDirSha256; args = [ "-c" recTree ]; };
  foRecSha1 = mk { name = "fo-rec-sha1"; outputHashMode = "recursive"; outputHashAlgo = "sha1"; outputHash = recDirSha1; args = [ "-c" recTree ]; };
  foRecSha512 = mk { name = "fo-rec-sha512"; outputHashMode = "recursive"; outputHashAlgo = "sha512"; outputHash = recDirSha512; args = [ "-c" recTree ]; };
  foRecFile = mk { name = "fo-rec-file"; outputHashMode = "recursive"; outputHashAlgo = "sha256"; outputHash = recFileSha256; args = [ "-c" "printf 'flat content\\n' > $out" ]; };

  chain1 = script "chain1" "echo ${plain} > $out";
  chain2 = script "chain2" "cat ${chain1} > $out; echo ${chain1} >> $out";
  chain3 = script "chain3" "mkdir $out; cp ${chain2} $out/prev; echo ${chain2} > $out/ref";
  chain4 = script "chain4" "mkdir $out; ln -s ${chain3}/prev $out/link";
  chain5 = script "chain5" "mkdir $out; cat ${chain4}/link > $out/content; echo ${chain4} > $out/ref";

  # Only multi.lib is an input; its closure brings out and dev, and this refers to all three.
  crossOutputs = script "cross-outputs" ''
    mkdir $out
    cat ${multi.lib}/out-ref > $out/out-path
    cat $(cat ${multi.lib}/out-ref)/dev-ref > $out/dev-path
    ln -s ${multi.lib} $out/lib
  '';
  # Outputs referring to each other (a cycle between outputs is an error in Nix).
  mutual = mk {
    name = "mutual";
    outputs = [ "out" "bin" "doc" ];
    args = [ "-c" "mkdir $out $bin $doc; echo $bin > $out/b; echo $bin $out $doc > $doc/all; ln -s $bin $doc/bin" ];
  };

  allowedRefs = mk { name = "allowed-refs"; args = [ "-c" "echo ${plain} ${chain1} > $out" ]; allowedReferences = [ plain chain1 ]; };
  allowedSelf = mk { name = "allowed-self"; args = [ "-c" "mkdir $out; echo $out ${plain} > $out/x" ]; allowedReferences = [ "out" plain ]; };
  allowedReqs = mk { name = "allowed-reqs"; args = [ "-c" "echo ${chain2} > $out" ]; allowedRequisites = [ chain2 chain1 plain ]; };
  disallowedRefs = mk { name = "disallowed-refs"; args = [ "-c" "echo ${chain2} > $out" ]; disallowedReferences = [ plain chain1 ]; };
  disallowedReqs = mk { name = "disallowed-reqs"; args = [ "-c" "echo ${chain2} > $out; echo ${multi.dev} >> $out" ]; disallowedRequisites = [ foFlatSha256 multi.lib ]; };

  structured = mk {
    name = "structured";
    __structuredAttrs = true;
    outputs = [ "out" "doc" ];
    args = [ "-c" ''
      out=$(sed -n 's/.*"outputs":{"doc":"[^"]*","out":"\([^"]*\)".*/\1/p' .attrs.json)
      doc=$(sed -n 's/.*"outputs":{"doc":"\([^"]*\)".*/\1/p' .attrs.json)
      mkdir $out $doc
      cp $NIX_BUILD_TOP/.attrs.json $out/attrs.json
      cp $NIX_BUILD_TOP/.attrs.sh $out/attrs.sh
      echo ${plain} > $doc/ref
      env | grep -v '^NIX_ATTRS_' | sort > $out/env
    '' ];
    aBool = true; aFalse = false; aNull = null; anInt = 42; aNegative = -7; aFloat = 1.5; aWholeFloat = 2.0;
    # Kept exactly in .attrs.json, truncated to a C int in .attrs.sh (Nix's conversions).
    aBigInt = 5000000000; aHugeInt = 9007199254740993; aNegativeBig = -5000000000;
    aFloatBig = 1.0e20; aFloatTiny = 1.0e-7; aFloatLong = 123456789.123; aFloatSmall = 0.00012345; aFloat16 = 1.0e16; aFloatNegative = -2.5;
    numbers = [ 2147483648 1.0e15 0.1 ]; "Zupper" = 1; "é" = "non-ASCII key";
    aList = [ "a" "b c" 1 true ]; aNested = [ [ "x" ] ]; anAttrset = { x = "y"; z = 1; "k e'y" = "v'q"; };
    "not-an-identifier" = "skipped in .attrs.sh";
    text = "quote\" backslash\\ newline\n tab\t unicode-é-日本-😀 dollar\${x} 'single'";
    control = builtins.fromJSON "\"\\u0001\\u0008\\u000c\\u001f\\u007f end\"";
    placeholderText = "${builtins.placeholder "out"}/bin ${builtins.placeholder "doc"}";
    refs = [ plain chain1 ];
    outputChecks = {
      out = { allowedReferences = [ "out" "doc" plain chain1 multi.dev ]; allowedRequisites = [ "out" "doc" plain chain1 multi.dev ]; maxSize = 100000; };
      doc = { disallowedReferences = [ chain1 ]; disallowedRequisites = [ multi.dev ]; };
    };
  };

  passAsFile = mk {
    name = "pass-as-file";
    passAsFile = [ "bigText" "other" ];
    bigText = "line1\nline2 ${builtins.placeholder "out"}\n";
    other = "";
    args = [ "-c" "mkdir $out; cp $bigTextPath $out/big; cp $otherPath $out/other; echo $bigTextPath $otherPath > $out/paths; echo \"[$bigText]\" >> $out/paths" ];
  };

  graphLegacy = mk {
    name = "graph-legacy";
    exportReferencesGraph = [ "graph" chain3 "graph2" multi.lib "drvgraph" multi.drvPath ];
    args = [ "-c" "mkdir $out; cp graph $out/graph; cp graph2 $out/graph2; cp drvgraph $out/drvgraph" ];
  };
  graphStructured = mk {
    name = "graph-structured";
    __structuredAttrs = true;
    exportReferencesGraph = { graph = [ chain3 ]; graph2 = multi.lib; fixed = [ foFlatSha1 foRecSha256 ]; };
    args = [ "-c" ''
      out=$(sed -n 's/.*"outputs":{"out":"\([^"]*\)".*/\1/p' .attrs.json)
      mkdir $out
      cp .attrs.json $out/attrs.json
      cp .attrs.sh $out/attrs.sh
    '' ];
  };

  envPrint = mk {
    name = "env-print";
    outputs = [ "out" "dev" ];
    extraAttr = "value with spaces";
    impureEnvVars = [ "SPEC_IMPURE" ];
    PATH = "/custom-path";
    TMPDIR = "/overridden";
    passAsFile = [ "bigText" ];
    bigText = "x";
    args = [ "-c" "env | sort > $out; echo \"$$ $(pwd) $(id -u) $(id -g) $(hostname) $(umask)\" > $dev" ];
  };
  # A fixed output cannot hold its environment: it goes to the log instead.
  envFixed = mk {
    name = "env-fixed";
    outputHashAlgo = "sha256";
    outputHash = builtins.hashString "sha256" "fixed\n";
    impureEnvVars = [ "SPEC_IMPURE" ];
    args = [ "-c" "env | sort; echo fixed > $out" ];
  };

  placeholders = mk {
    name = "placeholders";
    outputs = [ "out" "dev" ];
    devPath = builtins.placeholder "dev";
    selfPath = "${builtins.placeholder "out"}/share";
    args = [ "-c" "mkdir -p $out $dev; echo \"$devPath\" > $out/dev-path; echo \"$selfPath\" > $out/self-path; echo dev > $dev/d; echo ${builtins.placeholder "out"} > $out/from-args" ];
  };

  selfRef = script "self-ref" ''
    mkdir $out
    echo $out > $out/self
    ln -s $out/self $out/absolute-link
  '';

  tree = script "tree" ''
    mkdir -p $out/dir/sub $out/empty
    printf 'héllo' > "$out/héllo wörld ✓"
    echo 日本語 > $out/dir/日本語.txt
    printf '😀' > $out/dir/sub/emoji-😀
    ln -s "héllo wörld ✓" $out/link
    ln -s /nonexistent/target $out/dangling
    ln -s dir/sub $out/dir-link
    printf '#!/bin/sh\necho hi\n' > $out/run
    chmod 755 $out/run
    chmod 600 $out/dir/日本語.txt
    chmod 700 $out/dir/sub
    : > $out/empty-file
    echo ${nonce} > $out/nonce
  '';
}
