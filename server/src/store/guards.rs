//! SQL guards built from the domain's state machines: an update to a status is allowed only
//! from the states that may become it, so the table in `domain` is the one rule and no query
//! restates it by hand.

use domain::StateMachine;

/// `'a', 'b'`: the quoted names of `states`, for `status IN (…)`.
pub fn quoted<S: StateMachine>(states: impl IntoIterator<Item = S>) -> String {
    let names: Vec<String> = states
        .into_iter()
        .map(|s| format!("'{}'", s.name()))
        .collect();
    names.join(", ")
}

/// `'a', 'b'`: the states that may become `target`.
pub fn sources_of<S: StateMachine>(target: S) -> String {
    quoted(S::sources(target))
}

#[cfg(test)]
mod tests {
    //! Guards bound per call are written out as constants; these tests hold them to the
    //! domain's state machines.
    use super::sources_of;
    use crate::store::{pipeline_sql, preview_sql};
    use domain::DeliveryStatus;
    use domain::pipeline::{PipelineStatus, StepStatus};
    use domain::preview::AttemptStatus;

    #[test]
    fn the_written_out_guards_are_what_the_state_machines_allow() {
        for ended in [
            PipelineStatus::Succeeded,
            PipelineStatus::Failed,
            PipelineStatus::Cancelled,
        ] {
            let guard = format!("status IN ({})", sources_of(ended));
            assert!(pipeline_sql::FINISH.ends_with(&guard), "{guard}");
        }
        let claim = format!(
            "AND status = {} RETURNING id",
            sources_of(PipelineStatus::Running)
        );
        assert!(pipeline_sql::CLAIM.ends_with(&claim), "{claim}");
        let start = format!("status = {}", sources_of(StepStatus::Running));
        assert!(pipeline_sql::START_STEP.ends_with(&start), "{start}");
        for ended in [
            StepStatus::Succeeded,
            StepStatus::Failed,
            StepStatus::Cancelled,
        ] {
            let guard = format!("status IN ({})", sources_of(ended));
            assert!(pipeline_sql::FINISH_STEP.ends_with(&guard), "{guard}");
            assert!(pipeline_sql::SWEEP_STEPS.ends_with(&guard), "{guard}");
        }
        for ended in [AttemptStatus::Succeeded, AttemptStatus::Failed] {
            let guard = format!("status = {} RETURNING", sources_of(ended));
            assert!(preview_sql::END_ATTEMPT.contains(&guard), "{guard}");
        }
    }

    #[test]
    fn a_guard_lists_the_states_that_may_move_there() {
        assert_eq!(super::sources_of(DeliveryStatus::Processing), "'queued'");
        assert_eq!(super::sources_of(DeliveryStatus::Failed), "'processing'");
    }
}
