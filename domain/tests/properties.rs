//! Invariants that hold for every input, checked on generated ones (proptest): a preview's
//! namespace is always a valid Kubernetes name, and the step scheduler never starts a step
//! before its dependencies succeeded and never stalls while steps are left.

use domain::pipeline::{Dag, StepStatus};
use domain::preview::namespace::{distinct_namespace, is_dns_label, preview_namespace};
use proptest::prelude::*;

proptest! {
    #[test]
    fn a_namespace_is_always_a_dns_label(repository in "\\PC{0,120}", number in 1i64..i64::MAX) {
        let name = preview_namespace(&repository, number);
        prop_assert!(is_dns_label(&name), "{name:?} from {repository:?} #{number}");
        prop_assert_eq!(&name, &preview_namespace(&repository, number), "stable");
        let distinct = distinct_namespace(&repository, number);
        prop_assert!(is_dns_label(&distinct), "{distinct:?} from {repository:?} #{number}");
        prop_assert_ne!(&distinct, &name, "the fallback never is the name it replaces");
    }

    #[test]
    fn pull_requests_of_one_repository_never_share_a_namespace(
        repository in "[a-zA-Z0-9._-]{1,39}/[a-zA-Z0-9._-]{1,100}",
        a in 1i64..1_000_000,
        b in 1i64..1_000_000,
    ) {
        prop_assume!(a != b);
        prop_assert_ne!(preview_namespace(&repository, a), preview_namespace(&repository, b));
    }

    #[test]
    fn the_scheduler_respects_dependencies_and_always_finishes(
        // Step i may depend on any earlier step: every such graph is acyclic.
        dependencies in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), 1..12),
        outcomes in prop::collection::vec(any::<bool>(), 12),
    ) {
        let names: Vec<String> = (0..dependencies.len()).map(|i| format!("s{i}")).collect();
        let depends_on: Vec<Vec<String>> = dependencies
            .iter()
            .enumerate()
            .map(|(i, picks)| {
                let mut deps: Vec<String> = if i == 0 {
                    Vec::new()
                } else {
                    picks.iter().map(|p| names[p.index(i)].clone()).collect()
                };
                deps.sort();
                deps.dedup();
                deps
            })
            .collect();
        let dag = Dag::from_names(names.iter().map(String::as_str).zip(depends_on.iter().map(Vec::as_slice)));
        prop_assert_eq!(dag.find_cycle(), None);
        let mut statuses = vec![StepStatus::Pending; names.len()];
        // Each round runs every ready step to its outcome, then skips what can never run.
        for _round in 0..=names.len() {
            let ready = dag.ready(&statuses);
            let blocked = dag.blocked(&statuses);
            if ready.is_empty() && blocked.is_empty() {
                break;
            }
            for &step in &ready {
                for dependency in &depends_on[step] {
                    let index = names.iter().position(|n| n == dependency).unwrap_or(usize::MAX);
                    prop_assert_eq!(statuses[index], StepStatus::Succeeded, "s{} started early", step);
                }
                statuses[step] = if outcomes[step] { StepStatus::Succeeded } else { StepStatus::Failed };
            }
            for step in blocked {
                statuses[step] = StepStatus::Skipped;
            }
        }
        prop_assert!(
            statuses.iter().all(|s| s.is_finished()),
            "steps left pending with nothing to run: {:?}", statuses
        );
    }
}
