//! Which subjects wait to be reported: each at most once in the queue, at most one task per
//! subject at a time, and a subject that changes while its task runs is queued again when
//! that task is done — so changes coalesce and the last one is always reported.

use std::collections::{HashSet, VecDeque};

use domain::report::ReportKind;

/// A pipeline run's check, or a preview's deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subject {
    pub kind: ReportKind,
    pub id: i64,
}

#[derive(Debug, Default)]
pub struct Queue {
    waiting: VecDeque<Subject>,
    queued: HashSet<Subject>,
    running: HashSet<Subject>,
    again: HashSet<Subject>,
}

impl Queue {
    /// `subject` changed: report it.
    pub fn want(&mut self, subject: Subject) {
        if self.running.contains(&subject) {
            self.again.insert(subject);
        } else if self.queued.insert(subject) {
            self.waiting.push_back(subject);
        }
    }

    /// The next subject to report, now counted as running.
    pub fn next(&mut self) -> Option<Subject> {
        let subject = self.waiting.pop_front()?;
        self.queued.remove(&subject);
        self.running.insert(subject);
        Some(subject)
    }

    /// `subject`'s task ended.
    pub fn done(&mut self, subject: Subject) {
        self.running.remove(&subject);
        if self.again.remove(&subject) {
            self.want(subject);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: Subject = Subject {
        kind: ReportKind::Pipeline,
        id: 1,
    };
    const PREVIEW: Subject = Subject {
        kind: ReportKind::Preview,
        id: 1,
    };

    #[test]
    fn changes_coalesce_and_the_last_is_reported_after_the_running_task() {
        let mut queue = Queue::default();
        queue.want(RUN);
        queue.want(RUN);
        queue.want(PREVIEW);
        assert_eq!(queue.next(), Some(RUN));
        assert_eq!(queue.next(), Some(PREVIEW));
        assert_eq!(queue.next(), None, "each subject queued once");
        // Three changes while its task runs: one more report, after it.
        queue.want(RUN);
        queue.want(RUN);
        queue.want(RUN);
        assert_eq!(queue.next(), None, "not while its task runs");
        queue.done(RUN);
        assert_eq!(queue.next(), Some(RUN));
        queue.done(RUN);
        queue.done(PREVIEW);
        assert_eq!(queue.next(), None);
    }
}
