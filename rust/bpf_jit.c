// SPDX-License-Identifier: GPL-2.0
/*
 * kemu's tier 2 (ktranslator/src/tier2.rs) hands hot guest blocks, lowered to eBPF, to
 * the kernel's BPF JIT. The BPF structures are only reachable from C, so this shim is
 * the whole C side: allocate a program, copy the instructions, JIT it, run it, free it.
 * No verifier runs (ktranslator/src/ebpf.rs builds the programs safe by construction and
 * its checker proves it before they come here), and nothing is ever attached or exposed
 * to userspace.
 */
#include <linux/filter.h>
#include <linux/memcontrol.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <asm/nospec-branch.h>

struct kemu_jit_vm;

/* Called from Rust (rust/jit.rs and ktranslator/src/tier2.rs declare them). */
struct kemu_jit_vm *kemu_jit_vm_new(void);
void kemu_jit_vm_free(struct kemu_jit_vm *vm);
u64 kemu_jit_vm_bytes(const struct kemu_jit_vm *vm);
bool kemu_jit_vm_freeing_over_budget(const struct kemu_jit_vm *vm);
/* kemu_bpf_compile's *over_budget: which budget was spent. */
#define KEMU_OVER_VM_BUDGET 1
#define KEMU_OVER_TOTAL_BUDGET 2
/* The VM's programs and those it released and has not freed yet fill twice its budget. */
#define KEMU_OVER_VM_FREEING 3

void *kemu_bpf_compile(struct kemu_jit_vm *vm, const u64 *insns, u32 n, int *over_budget);
u64 kemu_bpf_run(const void *prog, void *ctx);
u64 kemu_bpf_run_checked(const void *prog, void *ctx, u64 *clobbered);
void kemu_bpf_release(struct kemu_jit_vm *vm, void *prog);
void kemu_bpf_free_released(struct kemu_jit_vm *vm, void *prog);
void kemu_bpf_free(struct kemu_jit_vm *vm, void *prog);
s32 kemu_bpf_call_imm(const void *fn);

/*
 * Debugging aid and test hook: with t2_check_regs=1 every tier-2 call goes through
 * kemu_bpf_run_checked, which checks that the program kept the caller's callee-saved
 * registers; t2_regs_checked and t2_regs_clobbered count the calls and the failures.
 */
static bool t2_check_regs;
module_param(t2_check_regs, bool, 0644);
MODULE_PARM_DESC(t2_check_regs, "check callee-saved registers around every tier-2 program call (slow; for tests)");

/* Blind the constants of every tier-2 program, whatever bpf_jit_harden says. */
static bool t2_blind;
module_param(t2_blind, bool, 0644);
MODULE_PARM_DESC(t2_blind, "blind constants in every tier-2 program (default: as net.core.bpf_jit_harden asks for the VM's owner)");

static atomic64_t t2_regs_checked = ATOMIC64_INIT(0);
static atomic64_t t2_regs_clobbered = ATOMIC64_INIT(0);

/*
 * JIT memory: every program costs its bpf_prog allocation (the instruction copy lives in
 * it and cannot be given back: bpf_prog_free needs the whole object), its aux struct
 * and its native image. Each VM and the module as a whole have a budget; a block whose
 * program would exceed either stays on tier 1. The allocations are charged to the
 * memory cgroup of the VM's owner, not to the kthread that compiles (root's).
 */
static unsigned int t2_vm_budget_mb = 128;
module_param(t2_vm_budget_mb, uint, 0644);
MODULE_PARM_DESC(t2_vm_budget_mb, "most MiB of tier-2 programs (bpf_prog, aux, native image) per VM; read at VM creation");
static unsigned int t2_total_budget_mb = 256;
module_param(t2_total_budget_mb, uint, 0644);
MODULE_PARM_DESC(t2_total_budget_mb, "most MiB of tier-2 programs of all VMs together");
static atomic64_t t2_jit_bytes = ATOMIC64_INIT(0);
static atomic64_t t2_jit_peak = ATOMIC64_INIT(0);
static atomic64_t t2_over_budget = ATOMIC64_INIT(0);
static atomic64_t t2_jit_freeing = ATOMIC64_INIT(0);
static atomic64_t t2_blinded = ATOMIC64_INIT(0);

static int kemu_param_get_count(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(kp->arg));
}

static const struct kernel_param_ops kemu_count_ops = { .get = kemu_param_get_count };

/* Any write to t2_jit_peak restarts it at the bytes allocated now. */
static int kemu_param_reset_peak(const char *val, const struct kernel_param *kp)
{
	atomic64_set(kp->arg, atomic64_read(&t2_jit_bytes) + atomic64_read(&t2_jit_freeing));
	return 0;
}

static const struct kernel_param_ops kemu_peak_ops = {
	.set = kemu_param_reset_peak,
	.get = kemu_param_get_count,
};
module_param_cb(t2_regs_checked, &kemu_count_ops, &t2_regs_checked, 0444);
MODULE_PARM_DESC(t2_regs_checked, "tier-2 calls checked by t2_check_regs");
module_param_cb(t2_regs_clobbered, &kemu_count_ops, &t2_regs_clobbered, 0444);
MODULE_PARM_DESC(t2_regs_clobbered, "checked tier-2 calls after which a callee-saved register differed");
module_param_cb(t2_jit_bytes, &kemu_count_ops, &t2_jit_bytes, 0444);
MODULE_PARM_DESC(t2_jit_bytes, "bytes of tier-2 programs in use (all VMs; released ones are in t2_jit_freeing)");
module_param_cb(t2_jit_peak, &kemu_peak_ops, &t2_jit_peak, 0644);
MODULE_PARM_DESC(t2_jit_peak, "most bytes of tier-2 programs allocated at once (in use and being freed) since load (a write restarts it from now)");
module_param_cb(t2_jit_freeing, &kemu_count_ops, &t2_jit_freeing, 0444);
MODULE_PARM_DESC(t2_jit_freeing, "bytes of tier-2 programs released and not freed yet (all VMs)");
module_param_cb(t2_over_budget, &kemu_count_ops, &t2_over_budget, 0444);
MODULE_PARM_DESC(t2_over_budget, "tier-2 programs not compiled because a budget was spent");
module_param_cb(t2_blinded, &kemu_count_ops, &t2_blinded, 0444);
MODULE_PARM_DESC(t2_blinded, "tier-2 programs compiled with blinded constants");

/*
 * A VM's JIT state: its budget, what it uses, whether to blind, whom to charge. A program
 * the hart released leaves `bytes` at once (kemu_bpf_release) and is counted in `freeing`
 * until kemu_bpf_free_released frees it (rust/jit.rs frees released programs a few at a
 * time between compiles). `bytes` is held to the budget (a VM that fills it flushes its
 * cache), and `bytes` + `freeing` to twice the budget: at most that much is allocated
 * for the VM. The module-wide budget counts both.
 */
struct kemu_jit_vm {
	atomic64_t bytes;
	atomic64_t freeing;
	u64 budget;
	bool blind;
	struct mem_cgroup *memcg;
};

/*
 * Whether t2_blind is set or net.core.bpf_jit_harden asks to blind the constants of
 * programs the calling task loads (bpf_jit_harden is not exported: bpf_prog_alloc works
 * it out for the current task, 1 = tasks without CAP_BPF, 2 = all).
 */
static bool kemu_bpf_blinding_wanted(void)
{
	struct bpf_prog *prog;
	bool blind;

	if (READ_ONCE(t2_blind))
		return true;
	prog = bpf_prog_alloc(bpf_prog_size(1), 0);
	if (!prog)
		return true;
	blind = prog->blinding_requested;
	bpf_prog_free(prog);
	return blind;
}

/*
 * The JIT state of a new VM, made in its owner's ioctl (the programs are compiled on a
 * kthread, which has every capability and belongs to the root cgroup): the budget from
 * t2_vm_budget_mb, blinding as that task would get it, its memory cgroup. NULL if out of
 * memory. Sleeps.
 */
struct kemu_jit_vm *kemu_jit_vm_new(void)
{
	struct kemu_jit_vm *vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);

	if (!vm)
		return NULL;
	atomic64_set(&vm->bytes, 0);
	atomic64_set(&vm->freeing, 0);
	vm->budget = (u64)READ_ONCE(t2_vm_budget_mb) << 20;
	vm->blind = kemu_bpf_blinding_wanted();
	vm->memcg = get_mem_cgroup_from_mm(current->mm);
	return vm;
}

/* Releases a VM's JIT state; every program of the VM must have been freed. */
void kemu_jit_vm_free(struct kemu_jit_vm *vm)
{
	if (!vm)
		return;
	WARN_ON(atomic64_read(&vm->bytes) != 0 || atomic64_read(&vm->freeing) != 0);
	mem_cgroup_put(vm->memcg);
	kfree(vm);
}

/* Bytes of tier-2 programs the VM holds. */
u64 kemu_jit_vm_bytes(const struct kemu_jit_vm *vm)
{
	return vm ? atomic64_read(&vm->bytes) : 0;
}

/* Whether the programs the VM released and has not freed yet hold more than its budget. */
bool kemu_jit_vm_freeing_over_budget(const struct kemu_jit_vm *vm)
{
	return vm && atomic64_read(&vm->freeing) > (s64)vm->budget;
}

/* What a program holds: its allocation (pages), its aux struct, its native image. */
static u64 kemu_prog_cost(const struct bpf_prog *prog)
{
	return ((u64)prog->pages << PAGE_SHIFT) + sizeof(struct bpf_prog_aux) + prog->jited_len;
}

/* Adds `delta` bytes to what the VM and the module hold (no limit). */
static void kemu_budget_add(struct kemu_jit_vm *vm, s64 delta)
{
	s64 total = atomic64_add_return(delta, &t2_jit_bytes) + atomic64_read(&t2_jit_freeing);
	s64 peak = atomic64_read(&t2_jit_peak);

	atomic64_add(delta, &vm->bytes);
	while (total > peak && !atomic64_try_cmpxchg(&t2_jit_peak, &peak, total))
		;
}

/*
 * Takes `cost` bytes from the VM's and the module's budgets: 0, or which one is spent
 * (KEMU_OVER_VM_BUDGET, KEMU_OVER_VM_FREEING, KEMU_OVER_TOTAL_BUDGET).
 */
static int kemu_budget_take(struct kemu_jit_vm *vm, s64 cost)
{
	s64 total = atomic64_add_return(cost, &t2_jit_bytes) + atomic64_read(&t2_jit_freeing);
	s64 mine = atomic64_add_return(cost, &vm->bytes);
	int over = 0;

	if (mine > (s64)vm->budget)
		over = KEMU_OVER_VM_BUDGET;
	else if (mine + atomic64_read(&vm->freeing) > 2 * (s64)vm->budget)
		over = KEMU_OVER_VM_FREEING;
	else if (total > (s64)READ_ONCE(t2_total_budget_mb) << 20)
		over = KEMU_OVER_TOTAL_BUDGET;
	if (over) {
		atomic64_sub(cost, &vm->bytes);
		atomic64_sub(cost, &t2_jit_bytes);
		atomic64_inc(&t2_over_budget);
		return over;
	}
	kemu_budget_add(vm, 0);
	return 0;
}

/*
 * Compiles n instructions for a VM; returns the program (the handle for kemu_bpf_run and
 * kemu_bpf_free), or NULL if a budget is spent (then *over_budget says which) or the kernel
 * did not JIT it (the JIT is off, or it refused the program). Constants are blinded if the VM asks for it. Sleeps
 * (allocates with GFP_KERNEL, charged to the VM owner's memory cgroup).
 */
void *kemu_bpf_compile(struct kemu_jit_vm *vm, const u64 *insns, u32 n, int *over_budget)
{
	struct mem_cgroup *old_memcg;
	struct bpf_prog *prog;
	s64 estimate;
	int err = 0;

	*over_budget = 0;
	if (n == 0 || n > BPF_MAXINSNS * 16)
		return NULL;
	/*
	 * Reserve a bound first (the allocation, the aux struct, an image of at most 64
	 * bytes per instruction, more than the x86 JIT emits for kemu's subset; blinding
	 * triples the immediate forms), then settle on the real cost.
	 */
	estimate = round_up(bpf_prog_size(n), PAGE_SIZE) + sizeof(struct bpf_prog_aux) + (s64)n * 64;
	if (vm->blind)
		estimate *= 3;
	*over_budget = kemu_budget_take(vm, estimate);
	if (*over_budget)
		return NULL;
	old_memcg = set_active_memcg(vm->memcg);
	prog = bpf_prog_alloc(bpf_prog_size(n), 0);
	if (!prog)
		goto fail;
	memcpy(prog->insnsi, insns, array_size(n, sizeof(struct bpf_insn)));
	prog->len = n;
	/*
	 * The verifier would set the frame size; without it the JIT reserves what this
	 * says. kemu's programs keep no data on the stack (every slot is a hart field;
	 * ktranslator's checker refuses any use of r10), so they need none.
	 */
	prog->aux->stack_depth = 0;
	prog->blinding_requested = vm->blind;
	prog = bpf_prog_select_runtime(prog, &err);
	if (err || !prog->jited) {
		bpf_prog_free(prog);
		goto fail;
	}
	set_active_memcg(old_memcg);
	if (prog->blinded)
		atomic64_inc(&t2_blinded);
	/* Settle on the real cost (the estimate bounds it; if not, the rest is counted). */
	kemu_budget_add(vm, (s64)kemu_prog_cost(prog) - estimate);
	return prog;
fail:
	set_active_memcg(old_memcg);
	kemu_budget_add(vm, -estimate);
	return NULL;
}

/*
 * Runs a program from kemu_bpf_compile on ctx (a hart). The call goes through
 * prog->bpf_func as the kernel's own bpf_prog_run does: on a kCFI kernel the compiler
 * checks the bpf_func_t type hash, which is exactly the hash the JIT puts in front of
 * every image (arch/x86/net/bpf_jit_comp.c, cfi_bpf_hash), so the call is valid by
 * construction; Rust never calls JIT code through a pointer of its own type.
 */
u64 kemu_bpf_run(const void *handle, void *ctx)
{
	const struct bpf_prog *prog = handle;

	if (unlikely(READ_ONCE(t2_check_regs))) {
		u64 clobbered;

		return kemu_bpf_run_checked(prog, ctx, &clobbered);
	}
	return prog->bpf_func(ctx, prog->insnsi);
}

/* Known values for the callee-saved registers around a checked call. */
#define KEMU_CANARY_RBX 0x6b656d7500000b11UL
#define KEMU_CANARY_R12 0x6b656d7500001212UL
#define KEMU_CANARY_R13 0x6b656d7500001313UL
#define KEMU_CANARY_R14 0x6b656d7500001414UL
#define KEMU_CANARY_R15 0x6b656d7500001515UL

/*
 * Runs a program like kemu_bpf_run, with known values in rbx and r12-r15 across the
 * call; *clobbered is the OR of (register ^ known value) after it, 0 if the program
 * kept them all (the x86-64 calling convention it must follow). The call is made from
 * assembly (no kCFI check: a test path), through the retpoline thunk where the kernel
 * uses one.
 */
u64 kemu_bpf_run_checked(const void *handle, void *ctx, u64 *clobbered)
{
	const struct bpf_prog *prog = handle;
	unsigned long target = (unsigned long)prog->bpf_func;
	const void *insns = prog->insnsi;
	unsigned long ret, diff;

	asm volatile(
		"movabs $" __stringify(KEMU_CANARY_RBX) ", %%rbx\n\t"
		"movabs $" __stringify(KEMU_CANARY_R12) ", %%r12\n\t"
		"movabs $" __stringify(KEMU_CANARY_R13) ", %%r13\n\t"
		"movabs $" __stringify(KEMU_CANARY_R14) ", %%r14\n\t"
		"movabs $" __stringify(KEMU_CANARY_R15) ", %%r15\n\t"
		CALL_NOSPEC
		"movabs $" __stringify(KEMU_CANARY_RBX) ", %%rcx\n\t"
		"xor %%rcx, %%rbx\n\t"
		"movabs $" __stringify(KEMU_CANARY_R12) ", %%rcx\n\t"
		"xor %%rcx, %%r12\n\t"
		"or %%r12, %%rbx\n\t"
		"movabs $" __stringify(KEMU_CANARY_R13) ", %%rcx\n\t"
		"xor %%rcx, %%r13\n\t"
		"or %%r13, %%rbx\n\t"
		"movabs $" __stringify(KEMU_CANARY_R14) ", %%rcx\n\t"
		"xor %%rcx, %%r14\n\t"
		"or %%r14, %%rbx\n\t"
		"movabs $" __stringify(KEMU_CANARY_R15) ", %%rcx\n\t"
		"xor %%rcx, %%r15\n\t"
		"or %%r15, %%rbx\n\t"
		: "=a" (ret), "=&b" (diff), "+D" (ctx), "+S" (insns), ASM_CALL_CONSTRAINT
		: THUNK_TARGET(target)
		: "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory", "cc");

	*clobbered = diff;
	atomic64_inc(&t2_regs_checked);
	if (diff) {
		atomic64_inc(&t2_regs_clobbered);
		WARN_ONCE(1, "kemu: a tier-2 program changed callee-saved registers (rbx|r12-r15 xor expected: %#lx)\n",
			  diff);
	}
	return (u32)ret;
}

/*
 * Gives a program's bytes back to the budgets: the VM no longer runs it and frees it
 * later with kemu_bpf_free_released (until then it is counted in `freeing`).
 */
void kemu_bpf_release(struct kemu_jit_vm *vm, void *handle)
{
	s64 cost = kemu_prog_cost(handle);

	kemu_budget_add(vm, -cost);
	atomic64_add(cost, &vm->freeing);
	atomic64_add(cost, &t2_jit_freeing);
}

/* Frees a program given to kemu_bpf_release (its image is freed from a workqueue). */
void kemu_bpf_free_released(struct kemu_jit_vm *vm, void *handle)
{
	struct bpf_prog *prog = handle;
	s64 cost = kemu_prog_cost(prog);

	atomic64_sub(cost, &vm->freeing);
	atomic64_sub(cost, &t2_jit_freeing);
	bpf_prog_free(prog);
}

/* Releases and frees a program of a VM from kemu_bpf_compile. */
void kemu_bpf_free(struct kemu_jit_vm *vm, void *handle)
{
	kemu_bpf_release(vm, handle);
	kemu_bpf_free_released(vm, handle);
}

/*
 * The BPF_CALL immediate that makes JIT-compiled code call fn, or 0 if fn is out of the
 * +-2 GiB range the immediate covers.
 */
s32 kemu_bpf_call_imm(const void *fn)
{
	long d = (long)fn - (long)__bpf_call_base;

	if (d == 0 || d < S32_MIN || d > S32_MAX)
		return 0;
	return (s32)d;
}
