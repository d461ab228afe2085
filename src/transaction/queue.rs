//! A small queue for what is in flight or still to send.

use std::collections::VecDeque;

/// A queue that holds one item inline and makes a `VecDeque` only when a
/// second joins: a single send allocates nothing for it, a batch once.
pub(super) enum Queue<T> {
    One(Option<T>),
    Many(VecDeque<T>),
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::One(None)
    }
}

impl<T> Queue<T> {
    /// A queue with room for `n` items (kept inline for one).
    pub fn with_capacity(n: usize) -> Self {
        if n > 1 {
            Queue::Many(VecDeque::with_capacity(n))
        } else {
            Queue::One(None)
        }
    }

    pub fn push_back(&mut self, t: T) {
        match self {
            Queue::One(slot @ None) => *slot = Some(t),
            Queue::One(slot) => {
                let mut queue: VecDeque<T> = slot.take().into_iter().collect();
                queue.push_back(t);
                *self = Queue::Many(queue);
            }
            Queue::Many(queue) => queue.push_back(t),
        }
    }

    pub fn push_front(&mut self, t: T) {
        match self {
            Queue::One(slot @ None) => *slot = Some(t),
            Queue::One(slot) => {
                let mut queue: VecDeque<T> = slot.take().into_iter().collect();
                queue.push_front(t);
                *self = Queue::Many(queue);
            }
            Queue::Many(queue) => queue.push_front(t),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Queue::One(slot) => usize::from(slot.is_some()),
            Queue::Many(queue) => queue.len(),
        }
    }

    pub fn pop_front(&mut self) -> Option<T> {
        match self {
            Queue::One(slot) => slot.take(),
            Queue::Many(queue) => queue.pop_front(),
        }
    }

    pub fn pop_back(&mut self) -> Option<T> {
        match self {
            Queue::One(slot) => slot.take(),
            Queue::Many(queue) => queue.pop_back(),
        }
    }

    pub fn front(&self) -> Option<&T> {
        match self {
            Queue::One(slot) => slot.as_ref(),
            Queue::Many(queue) => queue.front(),
        }
    }

    pub fn back(&self) -> Option<&T> {
        match self {
            Queue::One(slot) => slot.as_ref(),
            Queue::Many(queue) => queue.back(),
        }
    }

    pub fn back_mut(&mut self) -> Option<&mut T> {
        match self {
            Queue::One(slot) => slot.as_mut(),
            Queue::Many(queue) => queue.back_mut(),
        }
    }

    pub fn find_mut(&mut self, mut f: impl FnMut(&T) -> bool) -> Option<&mut T> {
        match self {
            Queue::One(slot) => slot.as_mut().filter(|t| f(t)),
            Queue::Many(queue) => queue.iter_mut().find(|t| f(t)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.front().is_none()
    }

    pub fn for_each(&mut self, f: impl FnMut(&mut T)) {
        match self {
            Queue::One(slot) => slot.iter_mut().for_each(f),
            Queue::Many(queue) => queue.iter_mut().for_each(f),
        }
    }
}
