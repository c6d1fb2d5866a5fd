//! Persisted states as state machines: every status Slipway stores (delivery, pipeline run,
//! step, preview, deploy attempt) says which moves it allows, in one place, and the Store builds
//! its SQL guards from that table. Reading a state the table does not know is an error that
//! names the value, never a default.

/// A persisted status with its allowed moves.
pub trait StateMachine: Copy + Eq + Sized + 'static {
    /// What the states are of (`delivery`, `pipeline`, …), for messages.
    const ENTITY: &'static str;
    /// Every state.
    const ALL: &'static [Self];

    /// The state's stored name.
    fn name(self) -> &'static str;

    /// Whether `self` may move to `next`.
    fn can_become(self, next: Self) -> bool;

    /// The states that may move to `next`: what an update to `next` is guarded by.
    fn sources(next: Self) -> Vec<Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(|s| s.can_become(next))
            .collect()
    }

    /// The state stored as `text`; an error naming the value when there is none.
    fn read(text: &str) -> Result<Self, UnknownState> {
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.name() == text)
            .ok_or_else(|| UnknownState {
                entity: Self::ENTITY,
                value: text.to_owned(),
            })
    }
}

/// A stored state this version does not know (written by a newer version, or by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {entity} status `{value}` in the database")]
pub struct UnknownState {
    pub entity: &'static str,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeliveryStatus;

    #[test]
    fn an_unknown_state_is_an_error_naming_it() {
        let error = DeliveryStatus::read("exploded").err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("unknown delivery status `exploded` in the database".to_owned())
        );
        assert_eq!(DeliveryStatus::read("queued"), Ok(DeliveryStatus::Queued));
    }

    #[test]
    fn sources_are_the_states_that_may_move_there() {
        use DeliveryStatus::*;
        assert_eq!(DeliveryStatus::sources(Processing), vec![Queued]);
        assert_eq!(DeliveryStatus::sources(Processed), vec![Processing]);
    }
}
