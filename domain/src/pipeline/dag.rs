//! The order steps run in: cycle detection for validation, and, during a run, which steps may
//! start now and which can never run because something they depend on did not succeed.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::definition::PipelineDefinition;

/// Where a step is in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Not run because a step it depends on did not succeed, or the run ended first.
    Skipped,
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        <Self as crate::state::StateMachine>::read(text).ok()
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

impl crate::state::StateMachine for StepStatus {
    const ENTITY: &'static str = "step";
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Skipped,
        Self::Cancelled,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }

    /// A pending step starts, or ends without running (skipped, cancelled, or failed before
    /// its command: a missing secret); a running step ends. An ended step is final.
    fn can_become(self, next: Self) -> bool {
        match self {
            Self::Pending => next != Self::Pending,
            Self::Running => next.is_finished(),
            _ => false,
        }
    }
}

/// Step dependencies by index into the definition's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dag {
    depends_on: Vec<Vec<usize>>,
}

impl Dag {
    /// The graph of a definition; dependencies on unknown steps are ignored (validation reports
    /// them).
    pub fn new(definition: &PipelineDefinition) -> Self {
        Self::from_names(
            definition
                .steps
                .iter()
                .map(|step| (step.name.as_str(), step.depends_on.as_slice())),
        )
    }

    /// The graph of `(step, its dependencies)` pairs, in step order.
    pub fn from_names<'a>(steps: impl Iterator<Item = (&'a str, &'a [String])> + Clone) -> Self {
        let index: HashMap<&str, usize> = steps
            .clone()
            .enumerate()
            .map(|(i, (name, _))| (name, i))
            .collect();
        let depends_on = steps
            .map(|(_, deps)| {
                deps.iter()
                    .filter_map(|dep| index.get(dep.as_str()).copied())
                    .collect()
            })
            .collect();
        Self { depends_on }
    }

    /// A dependency cycle as step indices, first step repeated at the end (`a → b → a`).
    pub fn find_cycle(&self) -> Option<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::New; self.depends_on.len()];
        for start in 0..self.depends_on.len() {
            if marks[start] != Mark::New {
                continue;
            }
            // Iterative depth-first search: (node, next dependency to look at).
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            marks[start] = Mark::OnPath;
            while let Some(&mut (node, ref mut next)) = path.last_mut() {
                if let Some(&dep) = self.depends_on[node].get(*next) {
                    *next += 1;
                    match marks[dep] {
                        Mark::OnPath => {
                            let from = path.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                path[from..].iter().map(|&(n, _)| n).collect();
                            cycle.push(dep);
                            return Some(cycle);
                        }
                        Mark::New => {
                            marks[dep] = Mark::OnPath;
                            path.push((dep, 0));
                        }
                        Mark::Done => {}
                    }
                } else {
                    marks[node] = Mark::Done;
                    path.pop();
                }
            }
        }
        None
    }

    /// Pending steps whose dependencies all succeeded, in step order.
    pub fn ready(&self, statuses: &[StepStatus]) -> Vec<usize> {
        (0..self.depends_on.len())
            .filter(|&i| {
                statuses.get(i) == Some(&StepStatus::Pending)
                    && self.depends_on[i]
                        .iter()
                        .all(|&dep| statuses.get(dep) == Some(&StepStatus::Succeeded))
            })
            .collect()
    }

    /// Pending steps that can never run: a dependency failed, was skipped or was cancelled.
    pub fn blocked(&self, statuses: &[StepStatus]) -> Vec<usize> {
        (0..self.depends_on.len())
            .filter(|&i| {
                statuses.get(i) == Some(&StepStatus::Pending)
                    && self.depends_on[i].iter().any(|&dep| {
                        matches!(
                            statuses.get(dep),
                            Some(StepStatus::Failed | StepStatus::Skipped | StepStatus::Cancelled)
                        )
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(edges: &[(&str, &[&str])]) -> Dag {
        let owned: Vec<(String, Vec<String>)> = edges
            .iter()
            .map(|(n, d)| ((*n).to_owned(), d.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        Dag::from_names(owned.iter().map(|(n, d)| (n.as_str(), d.as_slice())))
    }

    #[test]
    fn finds_cycles_and_accepts_diamonds() {
        let diamond = dag(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        assert_eq!(diamond.find_cycle(), None);
        let cyclic = dag(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        assert_eq!(cyclic.find_cycle(), Some(vec![0, 2, 1, 0]));
        assert_eq!(dag(&[("a", &["a"])]).find_cycle(), Some(vec![0, 0]));
    }

    #[test]
    fn independent_steps_are_ready_together_and_failures_block_dependants() {
        use StepStatus::*;
        let graph = dag(&[
            ("lint", &[]),
            ("test", &[]),
            ("build", &["lint", "test"]),
            ("docs", &[]),
        ]);
        assert_eq!(
            graph.ready(&[Pending, Pending, Pending, Pending]),
            vec![0, 1, 3]
        );
        assert_eq!(
            graph.ready(&[Succeeded, Running, Pending, Running]),
            Vec::<usize>::new()
        );
        assert_eq!(
            graph.ready(&[Succeeded, Succeeded, Pending, Running]),
            vec![2]
        );
        assert_eq!(graph.blocked(&[Failed, Running, Pending, Running]), vec![2]);
        assert_eq!(
            graph.blocked(&[Succeeded, Running, Pending, Running]),
            Vec::<usize>::new()
        );
    }
}
