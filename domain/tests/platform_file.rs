//! `.platform.yaml` as a developer writes it: what a valid file becomes, and the exact message
//! (with line and column) for every mistake the parser catches.

use domain::pipeline::definition::{DEFAULT_PIPELINE_TIMEOUT_SECS, DEFAULT_STEP_TIMEOUT_SECS};
use domain::pipeline::parse::parse_pipeline;

const SEED_EXAMPLE: &str = r#"
pipeline:
  steps:
    - name: test
      image: rust:1.85-slim
      commands:
        - cargo nextest run

    - name: build-image
      image: gcr.io/kaniko-project/executor:latest
      environment:
        DOCKER_CONFIG: /kaniko/.docker
        RETRIES: 3
        VERBOSE: true
      depends_on: [test]
      timeout: 20m
      resources:
        cpu: 500m
        memory: 1Gi
      commands:
        - /kaniko/executor
          --context=.
          --destination=$REGISTRY/$PROJECT:$COMMIT_SHA

  artifacts:
    - name: test-results
      path: target/nextest/
      step: test
      expires: 7d
    - name: image-digest
      path: digest.txt

  on:
    push:
      branches: [main, release/*]
    mr:
      actions: [opened, synchronized]
    schedule:
      - cron: "0 3 * * 1-5"
"#;

/// Every message the file produces, as `line:column: message`.
fn errors(yaml: &str) -> Vec<String> {
    match parse_pipeline(yaml) {
        Ok(definition) => panic!("expected errors, got {definition:?}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn steps(body: &str) -> String {
    format!("pipeline:\n  steps:\n{body}")
}

#[test]
fn the_seed_example_parses_into_a_definition() {
    let definition = parse_pipeline(SEED_EXAMPLE)
        .expect("valid file")
        .expect("has a pipeline");
    assert_eq!(definition.steps.len(), 2);
    let test = &definition.steps[0];
    assert_eq!(test.name, "test");
    assert_eq!(test.commands, ["cargo nextest run"]);
    assert_eq!(test.timeout_secs, DEFAULT_STEP_TIMEOUT_SECS);
    assert!(!test.publishes_image);

    let build = &definition.steps[1];
    assert_eq!(build.depends_on, ["test"]);
    assert_eq!(build.timeout_secs, 20 * 60);
    assert_eq!(build.environment["RETRIES"], "3");
    assert_eq!(build.environment["VERBOSE"], "true");
    assert_eq!(build.resources.cpu.as_deref(), Some("500m"));
    assert!(
        build.publishes_image,
        "kaniko steps publish the image by convention"
    );
    assert!(
        build.commands[0].contains("--destination=$REGISTRY/$PROJECT:$COMMIT_SHA"),
        "folded command kept whole: {:?}",
        build.commands
    );

    assert_eq!(definition.artifacts[0].step, "test");
    assert_eq!(definition.artifacts[0].expires_secs, 7 * 24 * 3600);
    assert_eq!(
        definition.artifacts[1].step, "build-image",
        "artifacts come from the last step by default"
    );
    assert_eq!(definition.timeout_secs, DEFAULT_PIPELINE_TIMEOUT_SECS);

    let triggers = &definition.triggers;
    assert!(triggers.runs_on_push("main") && triggers.runs_on_push("release/2"));
    assert!(!triggers.runs_on_push("feature/x"));
    assert!(triggers.runs_on_pull_request("synchronize"));
    assert!(!triggers.runs_on_pull_request("reopened"));
    assert_eq!(triggers.schedules[0].cron, "0 3 * * 1-5");
}

#[test]
fn a_file_without_a_pipeline_has_none() {
    assert_eq!(parse_pipeline(""), Ok(None));
    assert_eq!(parse_pipeline("# nothing yet\n"), Ok(None));
}

#[test]
fn malformed_yaml_says_where() {
    assert_eq!(
        errors("pipeline:\n  steps:\n    - name: [unclosed\n"),
        ["3:13: expected a string"]
    );
    assert_eq!(
        errors("pipeline:\n  steps: 3\n"),
        ["2:10: expected a list (`- item` lines or `[a, b]`)"]
    );
    assert_eq!(
        errors("pipeline:\n\tsteps: []\n"),
        ["2:2: tabs disallowed within this context (block indentation)"]
    );
}

#[test]
fn unknown_keys_are_errors_not_ignored() {
    let found = errors(&steps(
        "    - name: build\n      imgae: rust\n      commands: [make]\n",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("4:7: "), "{found:?}");
    assert!(found[0].contains("unknown field `imgae`"), "{found:?}");

    let top = errors("pipelines:\n  steps: []\n");
    assert!(
        top[0].starts_with("1:1: ") && top[0].contains("`pipelines`"),
        "{top:?}"
    );
}

#[test]
fn a_missing_image_or_command_is_named() {
    assert_eq!(
        errors(&steps("    - name: build\n      commands: [make]\n")),
        ["3:13: step `build`: image is required"]
    );
    assert_eq!(
        errors(&steps("    - name: build\n      image: alpine\n")),
        ["3:13: step `build`: commands are required (at least one)"]
    );
    assert_eq!(
        errors("pipeline:\n  steps: []\n"),
        ["2:3: `pipeline.steps` needs at least one step"]
    );
}

#[test]
fn unknown_dependencies_suggest_the_step_meant() {
    let yaml = steps(
        "    - name: test\n      image: alpine\n      commands: [make test]\n    - name: build\n      image: alpine\n      commands: [make]\n      depends_on: [tset, deploy]\n",
    );
    assert_eq!(
        errors(&yaml),
        [
            "9:20: step `build` depends on unknown step `tset` (did you mean `test`?)",
            "9:26: step `build` depends on unknown step `deploy`",
        ]
    );
}

#[test]
fn cycles_are_spelt_out() {
    let yaml = steps(
        "    - name: a\n      image: alpine\n      commands: [x]\n      depends_on: [b]\n    - name: b\n      image: alpine\n      commands: [x]\n      depends_on: [a]\n",
    );
    assert_eq!(errors(&yaml), ["3:13: cycle: a → b → a"]);
    let own =
        steps("    - name: a\n      image: alpine\n      commands: [x]\n      depends_on: [a]\n");
    assert_eq!(errors(&own), ["6:20: step `a` depends on itself"]);
}

#[test]
fn names_must_be_unique_and_usable_in_kubernetes() {
    let yaml = steps(
        "    - name: build\n      image: alpine\n      commands: [x]\n    - name: build\n      image: alpine\n      commands: [y]\n    - name: Build Image!\n      image: alpine\n      commands: [z]\n",
    );
    let found = errors(&yaml);
    assert_eq!(
        found[0],
        "6:13: step `build` is defined twice (first on line 3)"
    );
    assert!(
        found[1].starts_with("9:13: step name `Build Image!` is not valid: use letters, digits"),
        "{found:?}"
    );
}

#[test]
fn durations_quantities_and_environment_are_checked() {
    let yaml = steps(concat!(
        "    - name: build\n",
        "      image: alpine\n",
        "      commands: [make]\n",
        "      timeout: ten minutes\n",
        "      resources:\n",
        "        cpu: lots\n",
        "        memory: 0\n",
        "      environment:\n",
        "        COMMIT_SHA: abc\n",
        "        MY-VAR: x\n",
        "        TOKEN: ${{ secrets.bad-name }}\n",
    ));
    assert_eq!(
        errors(&yaml),
        [
            "6:16: step `build`: timeout `ten minutes` is not a duration: use e.g. `90s`, `10m`, `1h30m`, `7d`",
            "8:14: step `build`: cpu `lots` is not a CPU quantity: use e.g. `500m` or `2`",
            "9:17: step `build`: memory `0` is not a memory quantity: use e.g. `512Mi` or `2Gi`",
            "11:21: step `build`: `COMMIT_SHA` is set by Slipway and cannot be overridden",
            "12:17: step `build`: environment variable name `MY-VAR` is not valid: use letters, digits and `_`, not starting with a digit",
            "13:16: step `build`: secret name `bad-name` is not valid: use letters, digits and `_`",
        ]
    );
}

#[test]
fn artifacts_and_triggers_are_checked() {
    let yaml = concat!(
        "pipeline:\n",
        "  steps:\n",
        "    - name: build\n",
        "      image: alpine\n",
        "      commands: [make]\n",
        "  artifacts:\n",
        "    - name: out\n",
        "      path: ../secrets\n",
        "      step: biuld\n",
        "    - name: out\n",
        "      path: dist\n",
        "      expires: forever\n",
        "  on:\n",
        "    push:\n",
        "      branches: [\"release/[\"]\n",
        "    mr:\n",
        "      actions: [opened, merged]\n",
        "    schedule:\n",
        "      - cron: \"0 25 * * *\"\n",
    );
    let found = errors(yaml);
    assert_eq!(
        found[0],
        "8:13: artifact `out`: path `../secrets` must be relative to the workspace, without `..`"
    );
    assert_eq!(
        found[1],
        "9:13: artifact `out` comes from unknown step `biuld`"
    );
    assert_eq!(
        found[2],
        "10:13: artifact `out` is defined twice (first on line 7)"
    );
    assert!(
        found[3].starts_with("12:16: artifact `out`: expires `forever` is not a duration"),
        "{found:?}"
    );
    assert!(
        found[4].starts_with("15:18: branch pattern `release/[` is not valid"),
        "{found:?}"
    );
    assert_eq!(
        found[5],
        "17:25: pull request action `merged` is not known: use opened, synchronize, reopened, ready_for_review, labeled, edited"
    );
    assert!(
        found[6].starts_with("19:15: schedule `0 25 * * *` is not a valid cron expression"),
        "{found:?}"
    );
    assert_eq!(found.len(), 7, "{found:?}");
}

#[test]
fn the_json_schema_describes_steps_and_refuses_unknown_keys() {
    let schema = domain::pipeline::json_schema();
    let text = schema.to_string();
    assert_eq!(schema["title"], ".platform.yaml");
    assert_eq!(schema["additionalProperties"], false);
    let step = &schema["$defs"]["StepSection"];
    assert_eq!(step["additionalProperties"], false);
    for key in [
        "name",
        "image",
        "commands",
        "environment",
        "depends_on",
        "timeout",
        "resources",
        "publishes",
    ] {
        assert!(
            step["properties"][key].is_object(),
            "step schema lacks `{key}`: {text}"
        );
    }
    assert_eq!(step["required"], serde_json::json!(["name"]));
}

#[test]
fn hostile_files_get_one_clear_problem_quickly() {
    // 10,000 steps: one problem naming the limit, not ten thousand.
    let many: String = (0..10_000)
        .map(|i| format!("    - name: s{i}\n      image: alpine\n      commands: [echo {i}]\n"))
        .collect();
    assert_eq!(
        errors(&format!("pipeline:\n  steps:\n{many}")),
        ["2:3: `pipeline.steps` has 10000 steps; a pipeline has at most 300"]
    );
    // A 10 MB file is refused unread.
    let big = format!("pipeline:\n  steps:\n{}", "# padding\n".repeat(1_100_000));
    let refused = errors(&big);
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].starts_with("1:1: the file is 11000019 bytes; Slipway reads files of at most"),
        "{refused:?}"
    );
    // An alias "bomb" (a billion strings from 30 lines) is refused at its first nested alias:
    // no field takes lists of lists, and the parser bounds aliases besides.
    let mut bomb = String::from("pipeline:\n  steps:\n");
    bomb.push_str("    - name: a\n      image: alpine\n      environment: &a0 {A: x}\n");
    for level in 1..=9 {
        let previous = format!("*a{}", level - 1);
        let items = vec![previous; 10].join(", ");
        bomb.push_str(&format!(
            "    - name: s{level}\n      image: alpine\n      commands: &a{level} [{items}]\n"
        ));
    }
    let refused = errors(&bomb);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(
        refused[0],
        "8:22: expected a string (in what the alias here repeats, defined at line 5, column 24)"
    );
}
