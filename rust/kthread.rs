// SPDX-License-Identifier: GPL-2.0

//! Kernel threads: the one place that calls the kthread API (7.3 has no Rust abstraction).

use core::ffi::{c_int, c_void};
use core::ptr::NonNull;

use kernel::{bindings, error::from_err_ptr, prelude::*, str::CStr};

/// What a new thread runs: its data and the function that consumes it.
struct Start<T> {
    data: T,
    body: fn(T),
}

/// A running (or finished, not yet reaped) kernel thread.
///
/// # Invariants
///
/// `task` is a kthread created by [`KThread::spawn`] on which we hold a reference
/// (`get_task_struct`), and `kthread_stop` has not been called on it yet. `start` is the
/// `KBox<Start<T>>` handed to the thread, which owns it once it runs; `drop_start` frees it.
pub(crate) struct KThread {
    task: NonNull<bindings::task_struct>,
    start: *mut c_void,
    drop_start: unsafe fn(*mut c_void),
}

// SAFETY: a `KThread` is only a handle (a task reference); stopping it from any thread is
// allowed by the kthread API.
unsafe impl Send for KThread {}
// SAFETY: `&KThread` exposes nothing.
unsafe impl Sync for KThread {}

/// Entry point of every thread spawned here.
///
/// # Safety
///
/// `arg` must come from `KBox::<Start<T>>::into_raw` and be passed to exactly one thread.
unsafe extern "C" fn trampoline<T: Send>(arg: *mut c_void) -> c_int {
    // SAFETY: by this function's contract `arg` is a leaked `KBox<Start<T>>` that this
    // thread alone now owns.
    let start = unsafe { KBox::from_raw(arg.cast::<Start<T>>()) };
    let Start { data, body } = KBox::into_inner(start);
    body(data);
    0
}

/// Frees a `Start<T>` whose thread never ran.
///
/// # Safety
///
/// `p` must come from `KBox::<Start<T>>::into_raw`, and its thread must never run.
unsafe fn drop_start<T>(p: *mut c_void) {
    // SAFETY: by this function's contract nobody else owns the box.
    drop(unsafe { KBox::from_raw(p.cast::<Start<T>>()) });
}

impl KThread {
    /// Starts a kernel thread named `kemu-<role>/<id>` running `body(data)`.
    pub(crate) fn spawn<T: Send + 'static>(role: &CStr, id: u32, data: T, body: fn(T)) -> Result<Self> {
        let start = KBox::into_raw(KBox::new(Start { data, body }, GFP_KERNEL)?).cast::<c_void>();
        // SAFETY: `trampoline::<T>` has the signature kthread expects and takes ownership of
        // `start`, a leaked `KBox<Start<T>>`; the format string and its two arguments (a
        // NUL-terminated string that outlives the call, an unsigned int) match.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(trampoline::<T>),
                start,
                bindings::NUMA_NO_NODE,
                c"kemu-%s/%u".as_ptr().cast(),
                role.as_char_ptr(),
                id,
            )
        };
        let task = match from_err_ptr(task) {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: no thread was created, so `start` is still ours.
                unsafe { drop_start::<T>(start) };
                return Err(e);
            }
        };
        let task = NonNull::new(task).ok_or(ENOMEM)?;
        // SAFETY: `task` is a valid new kthread; take a reference so it stays valid until
        // `kthread_stop_put`, even if the thread function returns first.
        unsafe { bindings::get_task_struct(task.as_ptr()) };
        // SAFETY: `task` is a valid task that has not been woken yet.
        unsafe { bindings::wake_up_process(task.as_ptr()) };
        // INVARIANT: we hold a reference on `task` and have not stopped it.
        Ok(Self { task, start, drop_start: drop_start::<T> })
    }

    /// Waits for the thread to end (`kthread_stop`) and drops our reference. The body
    /// must end on its own: kemu's bodies end on kvmm's stop request, which the caller
    /// makes first.
    pub(crate) fn stop(self) {
        drop(self);
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we hold a reference on a not-yet-stopped kthread;
        // `kthread_stop_put` waits for it to finish and drops that reference.
        let ret = unsafe { bindings::kthread_stop_put(self.task.as_ptr()) };
        if ret == -(bindings::EINTR as c_int) {
            // The thread was stopped before its function ran: the start data is still here.
            // SAFETY: the thread never ran, so nobody took ownership of `start`.
            unsafe { (self.drop_start)(self.start) };
        }
    }
}
