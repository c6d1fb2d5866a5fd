//! `.platform.yaml`'s pipeline section as a repository could commit it: parsing and validation
//! either give a definition or problems with line and column, never a panic; the steps of a
//! definition it accepted are acyclic and all reach an end when run (none waits forever).
#![no_main]

use domain::pipeline::{Dag, StepStatus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(Some(definition)) = domain::pipeline::parse::parse_pipeline(text) else {
        return;
    };
    let dag = Dag::new(&definition);
    assert_eq!(dag.find_cycle(), None, "an accepted pipeline has no cycle");
    let mut statuses = vec![StepStatus::Pending; definition.steps.len()];
    for _round in 0..=statuses.len() {
        let (ready, blocked) = (dag.ready(&statuses), dag.blocked(&statuses));
        if ready.is_empty() && blocked.is_empty() {
            break;
        }
        for step in ready {
            statuses[step] = StepStatus::Succeeded;
        }
        for step in blocked {
            statuses[step] = StepStatus::Skipped;
        }
    }
    assert!(
        statuses.iter().all(|s| s.is_finished()),
        "every step ends: {statuses:?}"
    );
});
