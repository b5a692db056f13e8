//! The Go `text/template` engine: each construct, each function, error messages with their
//! line and column, trim markers, the output cap and the work limits. Expected outputs are
//! what Go's `text/template` (with Sprig and Tinkerbell's functions) produces.

use std::time::{Duration, Instant};

use ironbell_template::gotemplate::{Error, Limits, Template, Value, render};
use serde_json::json;

fn data() -> Value {
    Value::from(json!({
        "a": "x",
        "n": 2,
        "f": 1.5,
        "big": 1e6,
        "e": "",
        "z": 0,
        "t": true,
        "nul": null,
        "s": "str",
        "l": ["a", "b", "c", "d"],
        "m": {"b": 2, "a": 1},
        "nested": {"a": {"x": [10, 20]}, "k": "v"},
        "empty": [],
        "dev": "/dev/nvme0n1",
    }))
}

#[track_caller]
fn ok(text: &str, want: &str) {
    match render("t", text, &data()) {
        Ok(got) => assert_eq!(got, want, "template {text:?}"),
        Err(e) => panic!("template {text:?} failed: {e}"),
    }
}

#[track_caller]
fn err(text: &str) -> String {
    match render("t", text, &data()) {
        Ok(got) => panic!("template {text:?} rendered {got:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn err_is(text: &str, want: &str) {
    assert_eq!(err(text), want, "template {text:?}");
}

#[track_caller]
fn err_has(text: &str, want: &str) {
    let e = err(text);
    assert!(
        e.contains(want),
        "template {text:?}: error {e:?} lacks {want:?}"
    );
}

// ------------------------------------------------------------------ text, fields, printing

#[test]
fn text_and_fields() {
    ok("plain text", "plain text");
    ok("", "");
    ok("{{.a}}", "x");
    ok("a={{.a}} n={{.n}}", "a=x n=2");
    ok("{{.nested.k}} {{.nested.a.x}}", "v [10 20]");
}

#[test]
fn values_print_like_go() {
    ok("{{.m}}", "map[a:1 b:2]");
    ok("{{.l}}", "[a b c d]");
    ok("{{.nul}}", "<no value>");
    ok("{{print .nul}}", "<nil>");
    ok("{{.f}} {{.big}} {{.t}}", "1.5 1e+06 true");
    ok("{{.empty}}", "[]");
    ok("{{.nested}}", "map[a:map[x:[10 20]] k:v]");
}

#[test]
fn missing_key_is_an_error_with_line_and_column() {
    err_is(
        "{{.missing}}",
        r#"template: t:1:2: executing "t" at <.missing>: map has no entry for key "missing""#,
    );
    err_is(
        "line one\n  {{ .nested.nope }}",
        r#"template: t:2:5: executing "t" at <.nested.nope>: map has no entry for key "nope""#,
    );
    err_is(
        "{{.s.x}}",
        r#"template: t:1:2: executing "t" at <.s.x>: can't evaluate field x in type string"#,
    );
    err_is(
        "{{.nul.x}}",
        r#"template: t:1:2: executing "t" at <.nul.x>: nil pointer evaluating interface {}.x"#,
    );
}

#[test]
fn trim_markers_and_comments() {
    ok("a  {{- .a -}}  \n b", "axb");
    ok("a  {{- .a}}  b", "ax  b");
    ok("a  {{.a -}}  \n\t b", "a  xb");
    ok("a{{/* a comment */}}b", "ab");
    ok("a \n{{- /* trimmed */ -}}\n b", "ab");
    ok("{{/* multi\nline */}}x", "x");
    // "{{-3}}" is the number -3, not a trim marker.
    ok("{{-3}}", "-3");
    ok("1 {{- 2 -}} 3", "123");
    err_has("{{/* c */ .a}}", "comment ends before closing delimiter");
    err_has("{{/* never closed", "unclosed comment");
}

#[test]
fn literals() {
    ok("{{\"q\\\"x\\n\"}}", "q\"x\n");
    ok("{{`raw\\n`}}", "raw\\n");
    ok("{{'a'}} {{'\\n'}}", "97 10");
    ok(
        "{{0x10}} {{1e3}} {{-5}} {{1.5}} {{true}} {{false}} {{1_000}} {{010}}",
        "16 1000 -5 1.5 true false 1000 8",
    );
    err_has("{{nil}}", "nil is not a command");
    err_has("{{3x}}", "bad number syntax");
    err_has("{{\"open}}", "unterminated quoted string");
}

// ------------------------------------------------------------------ pipelines and variables

#[test]
fn pipelines() {
    ok("{{\"abc\" | printf \"%s-%s\" \"x\"}}", "x-abc");
    ok("{{.l | len | printf \"%d!\"}}", "4!");
    ok("{{(len .l) | printf \"%03d\"}}", "004");
    ok("{{(index .nested \"a\").x}}", "[10 20]");
    ok("{{print (print \"a\" (print \"b\"))}}", "ab");
    err_has(
        "{{\"x\" | 3}}",
        "non executable command in pipeline stage 2",
    );
    err_has("{{.a \"arg\"}}", "a is not a method but has arguments");
    err_has("{{1 2}}", "can't give argument to non-function 1");
}

#[test]
fn variables() {
    ok("{{$x := \"a\"}}{{$x}}{{$x = \"b\"}}{{$x}}", "ab");
    ok(
        "{{$}}",
        "map[a:x big:1e+06 dev:/dev/nvme0n1 e: empty:[] f:1.5 l:[a b c d] m:map[a:1 b:2] n:2 nested:map[a:map[x:[10 20]] k:v] nul:<nil> s:str t:true z:0]",
    );
    ok("{{with .nested}}{{.k}}{{$.a}}{{end}}", "vx");
    ok("{{$v := .nested}}{{$v.a.x}}", "[10 20]");
    // A variable assigned inside a range keeps its value after it.
    ok("{{$c := 0}}{{range .l}}{{$c = add $c 1}}{{end}}{{$c}}", "4");
    // A variable declared inside a block is gone after its end.
    err_has(
        "{{if 1}}{{$in := 1}}{{end}}{{$in}}",
        "undefined variable \"$in\"",
    );
    err_has("{{$nope}}", "undefined variable \"$nope\"");
}

// ------------------------------------------------------------------ control structures

#[test]
fn if_else() {
    let t = "{{if eq .n 1}}one{{else if eq .n 2}}two{{else}}many{{end}}";
    ok(t, "two");
    ok("{{if .e}}yes{{else}}no{{end}}", "no");
    ok("{{if .l}}yes{{end}}", "yes");
    ok("{{if .empty}}yes{{end}}", "");
    ok("{{if .z}}y{{else if .nul}}y{{else if .m}}m{{end}}", "m");
    ok("{{if $x := .a}}{{$x}}{{end}}", "x");
    err_has("{{if .a}}x", "unexpected EOF");
    err_has("{{if}}x{{end}}", "missing value for if");
}

#[test]
fn range() {
    ok(
        "{{range $i, $v := .l}}{{$i}}={{$v}};{{end}}",
        "0=a;1=b;2=c;3=d;",
    );
    ok("{{range .l}}{{.}}{{end}}", "abcd");
    ok("{{range $v := .l}}{{$v}}{{end}}", "abcd");
    ok("{{range $k, $v := .m}}{{$k}}:{{$v}},{{end}}", "a:1,b:2,");
    ok("{{range .m}}{{.}}{{end}}", "12");
    ok("{{range .empty}}x{{else}}none{{end}}", "none");
    ok("{{range .nul}}x{{else}}nil{{end}}", "nil");
    ok("{{range 3}}{{.}}{{end}}", "012");
    ok(
        "{{range .l}}{{if eq . \"b\"}}{{continue}}{{end}}{{if eq . \"d\"}}{{break}}{{end}}{{.}}{{end}}",
        "ac",
    );
    ok(
        "{{range $i, $x := .l}}{{range $.m}}{{$i}}{{end}}{{end}}",
        "00112233",
    );
    err_has("{{range .s}}{{end}}", "range can't iterate over str");
    err_has("{{break}}", "{{break}} outside {{range}}");
    err_has(
        "{{if 1}}{{continue}}{{end}}",
        "{{continue}} outside {{range}}",
    );
    err_has("{{$a, $b := .l}}", "too many declarations");
}

#[test]
fn with() {
    ok("{{with .a}}{{.}}{{else}}no{{end}}", "x");
    ok("{{with .e}}{{.}}{{else}}no{{end}}", "no");
    ok("{{with .z}}z{{else with .a}}<{{.}}>{{end}}", "<x>");
    ok("{{with $n := .nested}}{{$n.k}}{{end}}", "v");
}

#[test]
fn define_template_block() {
    ok(
        "{{define \"T\"}}<{{.}}>{{end}}{{template \"T\" \"x\"}}",
        "<x>",
    );
    ok(
        "{{define \"T\"}}<{{.}}>{{end}}{{template \"T\"}}",
        "<<no value>>",
    );
    ok("{{block \"B\" .a}}[{{.}}]{{end}}", "[x]");
    ok(
        "{{block \"B\" .}}default{{end}}{{define \"B\"}}over{{end}}",
        "over",
    );
    ok(
        "{{define \"list\"}}{{range .}}-{{.}}{{end}}{{end}}{{template \"list\" .l}}",
        "-a-b-c-d",
    );
    // Variables do not cross into a template; `$` is its data.
    ok(
        "{{define \"T\"}}{{$}}{{end}}{{$x := 1}}{{template \"T\" 5}}",
        "5",
    );
    err_has("{{template \"nope\"}}", "no such template \"nope\"");
    err_has("{{template .a}}", "unexpected \".a\" in template clause");
    err_has(
        "{{if 1}}{{define \"x\"}}{{end}}{{end}}",
        "unexpected <define>",
    );
    let e = err("{{define \"T\"}}\n  {{.missing}}{{end}}{{template \"T\" .}}");
    assert_eq!(
        e,
        r#"template: t:2:4: executing "T" at <.missing>: map has no entry for key "missing""#
    );
}

#[test]
fn parse_errors_name_line_and_column() {
    err_is("{{end}}", "template: t:1:2: unexpected {{end}}");
    err_is("a\n{{else}}", "template: t:2:2: unexpected {{else}}");
    err_is(
        "x\n y {{nope 1}}",
        "template: t:2:5: function \"nope\" not defined",
    );
    err_is("{{.a", "template: t:1:4: unclosed action");
    err_is(
        "{{.a | }",
        "template: t:1:7: unrecognized character in action: U+007D '}'",
    );
    err_has("{{(1}}", "unclosed left paren");
    err_has("{{1)}}", "unexpected right paren");
}

// ------------------------------------------------------------------ Go builtins

#[test]
fn logic_and_comparison() {
    ok(
        "{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}} {{not 0}} {{not .l}}",
        "0 2 x  true false",
    );
    // and/or stop at the first deciding argument.
    ok("{{or 1 (fail \"boom\")}} {{and 0 (fail \"boom\")}}", "1 0");
    ok(
        "{{eq 2 1 2}} {{eq .a \"x\"}} {{eq .nul nil}} {{eq .a nil}}",
        "true true true false",
    );
    ok("{{ne \"a\" \"b\"}} {{ne 1 1}}", "true false");
    ok(
        "{{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}",
        "true true true false",
    );
    err_is(
        "{{eq 1 \"a\"}}",
        r#"template: t:1:2: executing "t" at <eq 1 "a">: error calling eq: incompatible types for comparison"#,
    );
    err_has(
        "{{lt true false}}",
        "error calling lt: invalid type for comparison",
    );
    err_has("{{eq .l .l}}", "non-comparable type");
    err_has(
        "{{and}}",
        "wrong number of args for and: want at least 1 got 0",
    );
}

#[test]
fn len_index_slice() {
    ok("{{len .l}} {{len \"héllo\"}} {{len .m}}", "4 6 2");
    ok(
        "{{index .l 1}} {{index .nested \"a\" \"x\" 1}} {{index .m \"zz\"}}",
        "b 20 <no value>",
    );
    ok("{{index \"abc\" 1}}", "98");
    ok(
        "{{slice .l 1 3}} {{slice \"hello\" 1}} {{slice .l}}",
        "[b c] ello [a b c d]",
    );
    err_has(
        "{{index .l 9}}",
        "error calling index: index out of range: 9",
    );
    err_has("{{index .nul 1}}", "index of untyped nil");
    err_has("{{index .n 1}}", "can't index item of type int");
    err_has("{{len 3}}", "error calling len: len of type int");
    err_has("{{slice .l 3 1}}", "invalid slice index: 3 > 1");
}

#[test]
fn print_functions() {
    ok("{{print \"a\" 1 2 \"b\"}}", "a1 2b");
    ok("{{println \"a\" 1}}", "a 1\n");
    ok(
        "{{printf \"%5s|%-4d|%05.1f|%q|%x|%v\" \"ab\" 7 3.14159 \"q\" 255 .l}}",
        "   ab|7   |003.1|\"q\"|ff|[a b c d]",
    );
    ok("{{printf \"%d %s\" 1}}", "1 %!s(MISSING)");
    ok("{{printf \"%d\" \"x\"}}", "%!d(string=x)");
    ok(
        "{{printf \"%v %+d %X %o %b %e %g %t %c %%\" .m 5 255 8 5 1234.5 0.000001 true 65}}",
        "map[a:1 b:2] +5 FF 10 101 1.234500e+03 1e-06 true A %",
    );
    ok(
        "{{printf \"%6.2f|%-6s|%06d\" 3.14159 \"ab\" -42}}",
        "  3.14|ab    |-00042",
    );
    err_has(
        "{{printf 1}}",
        "wrong type for value; expected string; got int",
    );
}

#[test]
fn escapers() {
    ok(
        "{{html \"<a href='x'>&\\\"</a>\"}}",
        "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;",
    );
    ok(
        "{{js \"a'b\\\"c<d>=&\\\\\"}}",
        "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\\\",
    );
    ok("{{urlquery \"a b&c=d/é\"}}", "a+b%26c%3Dd%2F%C3%A9");
    ok("{{html 1 \"<\" 2}}", "1&lt;2");
    ok("{{\"<x>\" | html}}", "&lt;x&gt;");
}

// ------------------------------------------------------------------ Sprig functions

#[test]
fn sprig_defaults() {
    ok(
        "{{.e | default \"d\"}} {{default \"d\" \"x\"}} {{default \"d\" 0}} {{default \"d\"}}",
        "d x d d",
    );
    ok(
        "{{empty .e}} {{empty .l}} {{empty 0}} {{empty .nul}}",
        "true false true true",
    );
    ok(
        "{{coalesce \"\" 0 \"x\" \"y\"}} {{coalesce 0 .nul}}",
        "x <no value>",
    );
    ok(
        "{{ternary \"y\" \"n\" true}} {{false | ternary \"y\" \"n\"}}",
        "y n",
    );
    err_has(
        "{{ternary 1 2 \"x\"}}",
        "wrong type for value; expected bool; got string",
    );
    ok(
        "{{toString 5 | printf \"%q\"}} {{toString .l}}",
        "\"5\" [a b c d]",
    );
    ok("{{required \"need a\" .a}}", "x");
    err_is(
        "{{required \"need e\" .e}}",
        r#"template: t:1:2: executing "t" at <required "need e" .e>: error calling required: need e"#,
    );
    err_is(
        "{{fail \"boom\"}}",
        r#"template: t:1:2: executing "t" at <fail "boom">: error calling fail: boom"#,
    );
    ok(
        "{{kindOf .l}} {{typeOf .m}} {{typeOf 1.5}}",
        "slice map[string]interface {} float64",
    );
}

#[test]
fn sprig_json() {
    ok("{{toJson .m}}", "{\"a\":1,\"b\":2}");
    ok("{{toJson \"<&>\"}}", "\"\\u003c\\u0026\\u003e\"");
    ok("{{toRawJson \"<&>\"}}", "\"<&>\"");
    ok("{{toJson .nested}}", "{\"a\":{\"x\":[10,20]},\"k\":\"v\"}");
    ok(
        "{{toJson .big}} {{toJson .nul}} {{toJson 1e21}} {{toJson 0.0000001}}",
        "1000000 null 1e+21 1e-7",
    );
    ok(
        "{{toPrettyJson (dict \"a\" (list 1 2) \"b\" (dict))}}",
        "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}",
    );
}

#[test]
fn sprig_strings() {
    ok(
        "{{quote \"a\\\"b\" 1 .nul}} {{squote \"a\" 2}}",
        "\"a\\\"b\" \"1\" 'a' '2'",
    );
    ok(
        "{{upper \"abc\"}} {{lower \"ABC\"}} {{title \"hello world-foo_bar\"}}",
        "ABC abc Hello World-Foo_bar",
    );
    ok(
        "[{{trim \"  x \\n\"}}] {{trimPrefix \"/dev/\" \"/dev/sda\"}} {{trimSuffix \".yaml\" \"a.yaml\"}} {{trimAll \"$\" \"$5.00$\"}}",
        "[x] sda a 5.00",
    );
    ok(
        "{{replace \" \" \"-\" \"a b c\"}} {{replace \"\" \"-\" \"ab\"}}",
        "a-b-c -a-b-",
    );
    ok(
        "{{contains \"ell\" \"hello\"}} {{hasPrefix \"he\" \"hello\"}} {{hasSuffix \"x\" \"hello\"}}",
        "true true false",
    );
    ok(
        "{{$p := split \".\" \"a.b.c\"}}{{$p._1}} {{$p}}",
        "b map[_0:a _1:b _2:c]",
    );
    ok(
        "{{splitList \",\" \"a,b\" | join \"+\"}} {{join \",\" (list 1 \"a\" .nul 2)}} {{join \"-\" \"solo\"}}",
        "a+b 1,a,2 solo",
    );
    ok(
        "{{indent 2 \"a\\nb\"}}|{{nindent 2 \"a\"}}",
        "  a\n  b|\n  a",
    );
    ok(
        "{{repeat 3 \"ab\"}} {{substr 1 3 \"hello\"}} {{substr -1 2 \"hello\"}} {{substr 2 -1 \"hello\"}}",
        "ababab el he llo",
    );
    ok(
        "{{trunc 3 \"hello\"}} {{trunc -2 \"hello\"}} {{nospace \"a b\\tc\"}}",
        "hel lo abc",
    );
    ok(
        "{{b64enc \"hello\"}} {{b64dec \"aGVsbG8=\"}} {{b64dec \"!!\"}}",
        "aGVsbG8= hello illegal base64 data at input byte 0",
    );
    ok(
        "{{regexMatch \"^[a-z]+$\" \"abc\"}} {{regexMatch \"^[a-z]+$\" \"ab1\"}} {{regexMatch \"(\" \"x\"}}",
        "true false false",
    );
    ok(
        "{{regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\"}}",
        "-W-xxW-",
    );
    err_has(
        "{{regexReplaceAll \"(\" \"x\" \"y\"}}",
        "error calling regexReplaceAll: error parsing regexp",
    );
    err_has(
        "{{upper 3}}",
        "wrong type for value; expected string; got int",
    );
    err_has("{{upper}}", "wrong number of args for upper: want 1 got 0");
}

#[test]
fn sprig_lists_and_dicts() {
    ok("{{list 1 \"a\" .nul}} {{list}}", "[1 a <nil>] []");
    ok(
        "{{first .l}} {{last .l}} {{rest .l}} {{initial .l}} {{first .empty}}",
        "a d [b c d] [a b c] <no value>",
    );
    err_has(
        "{{first \"s\"}}",
        "error calling first: Cannot find first on type string",
    );
    ok(
        "{{append .l \"e\"}} {{prepend .l 0}} {{has \"b\" .l}} {{uniq (list 1 1 2)}} {{compact (list 0 1 \"\" 2)}} {{reverse (list 1 2)}}",
        "[a b c d e] [0 a b c d] true [1 2] [1 2] [2 1]",
    );
    ok("{{until 3}} {{until -2}}", "[0 1 2] [0 -1]");
    ok(
        "{{$d := dict \"a\" 1 \"b\" \"x\"}}{{get $d \"b\"}}[{{get $d \"zz\"}}]|{{hasKey $d \"a\"}}|{{keys $d | join \",\"}}|{{$d}}",
        "x[]|true|a,b|map[a:1 b:x]",
    );
    ok("{{dict \"k\"}}", "map[k:]");
    // `set` changes the map held by the variable, as Sprig's in-place update does.
    ok(
        "{{$d := dict}}{{$_ := set $d \"k\" \"v\"}}{{$d.k}} {{set (dict) \"a\" 1}}",
        "v map[a:1]",
    );
    ok(
        "{{$d := dict \"a\" 1}}{{$_ := unset $d \"a\"}}{{$d}}",
        "map[a:1]",
    );
    err_has(
        "{{get .l \"a\"}}",
        "wrong type for value; expected map[string]interface {}; got []interface {}",
    );
}

#[test]
fn sprig_numbers() {
    ok(
        "{{add 1 2 \"3\"}} {{add1 1}} {{sub 10 4}} {{mul 2 3 4}} {{div 7 2}} {{mod 7 3}} {{max 1 5 3}} {{min 4 2}}",
        "6 2 6 24 3 1 5 2",
    );
    ok(
        "{{int \"42\"}} {{int64 3.9}} {{float64 \"1.5\"}} {{atoi \"12\"}} {{atoi \"x\"}} {{int \"0x10\"}} {{int \"3.0\"}} {{int true}}",
        "42 3 1.5 12 0 16 3 1",
    );
    ok("{{add .f 1}}", "2");
    err_is(
        "{{div 1 0}}",
        r#"template: t:1:2: executing "t" at <div 1 0>: error calling div: runtime error: integer divide by zero"#,
    );
}

#[test]
fn tinkerbell_functions() {
    ok(
        "{{formatPartition \"/dev/sda\" 1}} {{formatPartition .dev 2}} {{formatPartition \"/dev/disk/by-id/wwn-1\" 3}}",
        "/dev/sda1 /dev/nvme0n1p2 /dev/disk/by-id/wwn-1-part3",
    );
    err_has(
        "{{formatPartition \"/dev/sda\" \"1\"}}",
        "wrong type for value; expected int; got string",
    );
    ok(
        "{{netmaskToPrefixLength \"255.255.255.0\"}} {{netmaskToPrefixLength \"255.255.0.0\"}} {{netmaskToPrefixLength \"255.0.255.0\"}} {{netmaskToPrefixLength \"255.255.255.255\"}}",
        "24 16 0 32",
    );
    // EKS Anywhere's default template calls it netmaskToCIDR.
    ok(
        "{{netmaskToCIDR \"255.255.255.0\"}} {{netmaskToCIDR \"255.0.255.0\"}}",
        "24 0",
    );
    err_has(
        "{{netmaskToCIDR \"x\"}}",
        "netmaskToCIDR: invalid netmask format: x",
    );
    err_has(
        "{{netmaskToPrefixLength \"x\"}}",
        "error calling netmaskToPrefixLength: invalid netmask format: x",
    );
    err_has(
        "{{netmaskToPrefixLength \"ffff::\"}}",
        "netmask must be IPv4: ffff::",
    );
    ok(
        "{{toYaml (dict \"b\" 1 \"a\" (list \"x\" \"y\"))}}",
        "a:\n- x\n- y\nb: 1",
    );
    ok(
        "{{toYaml .nested | nindent 2}}",
        "\n  a:\n    x:\n    - 10\n    - 20\n  k: v",
    );
    ok("{{toYaml \"s\"}}|{{toYaml 1.0}}", "s|1");
    ok(
        "{{(fromYaml \"a: 1\\nb: [x, y]\").b}} {{(fromYaml \"n: 2\").n}} {{(fromYaml \"n: 4294967294\").n}}",
        "[x y] 2 4.294967294e+09",
    );
    err_has(
        "{{fromYaml \"\"}}",
        "error calling fromYaml: fromYaml: empty YAML input",
    );
    err_has("{{fromYaml \"a: [\"}}", "error calling fromYaml: fromYaml:");
}

// ------------------------------------------------------------------ limits

#[test]
fn output_cap() {
    let e = err("{{range 300}}{{repeat 1000 \"a\"}}{{end}}");
    assert_eq!(e, "rendered template exceeds 262144 bytes");
    err_has(
        "{{repeat 300000 \"a\"}}",
        "error calling repeat: result exceeds 262144 bytes",
    );
    // Exactly at the cap is fine.
    let t = Template::parse("t", "{{repeat 262144 \"a\"}}").expect("parses");
    assert_eq!(t.execute(&Value::Nil).expect("renders").len(), 262_144);
    err_has(
        "{{$x := \"ab\"}}{{range 40}}{{$x = printf \"%s%s\" $x $x}}{{end}}",
        "result exceeds 262144 bytes",
    );
    err_has(
        "{{$x := \"ab\"}}{{range 40}}{{$x = replace \"a\" $x $x}}{{end}}",
        "result exceeds",
    );
    let small = Limits {
        max_output: 10,
        ..Limits::default()
    };
    let t = Template::parse("t", "0123456789x").expect("parses");
    assert_eq!(
        t.execute_with(&Value::Nil, small),
        Err(Error::OutputTooLarge { limit: 10 })
    );
}

#[track_caller]
fn fails_fast(text: &str, want: &str) {
    let start = Instant::now();
    let e = err(text);
    let took = start.elapsed();
    assert!(
        e.contains(want),
        "template {text:?}: error {e:?} lacks {want:?}"
    );
    assert!(
        took < Duration::from_secs(20),
        "template {text:?} took {took:?}"
    );
}

#[test]
fn hostile_templates_stop() {
    fails_fast(
        "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}",
        "exceeded maximum template depth (64)",
    );
    fails_fast(
        "{{define \"r\"}}{{if 1}}{{template \"r\" .}}{{end}}{{end}}{{template \"r\" .}}",
        "exceeded maximum template depth",
    );
    fails_fast(
        "{{range $i := until 100000}}{{range $j := until 100000}}{{end}}{{end}}",
        "exceeded the limit of 1000000 evaluation steps",
    );
    fails_fast("{{range 100000000000}}{{end}}", "evaluation steps");
    fails_fast(
        "{{$x := list 1}}{{range 60}}{{$x = list $x $x}}{{end}}{{len $x}}",
        "larger than",
    );
    fails_fast(
        "{{$x := list}}{{range 500}}{{$x = list $x}}{{end}}{{len $x}}",
        "nested deeper than 100 levels",
    );
    fails_fast(
        "{{$d := dict}}{{range 500}}{{$d = dict \"k\" $d}}{{end}}",
        "nested deeper than 100 levels",
    );
    fails_fast(
        "{{$x := \"a\"}}{{range 100000}}{{$x = repeat 200000 \"a\"}}{{end}}",
        "evaluation steps",
    );
    // Deeply nested source is refused by the parser.
    let deep_if = "{{if 1}}".repeat(500) + &"{{end}}".repeat(500);
    fails_fast(&deep_if, "nesting deeper than");
    let deep_paren = format!("{{{{{}1{}}}}}", "(".repeat(5000), ")".repeat(5000));
    fails_fast(&deep_paren, "nesting deeper than");
}

#[test]
fn nested_within_limits_works() {
    let t = "{{if 1}}".repeat(50) + "deep" + &"{{end}}".repeat(50);
    ok(&t, "deep");
    ok(
        &format!("{{{{{}1{}}}}}", "(".repeat(50), ")".repeat(50)),
        "1",
    );
}
