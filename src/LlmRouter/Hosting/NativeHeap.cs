using System.Runtime.InteropServices;

namespace LlmRouter.Hosting;

/// <summary>
/// Hands native blocks of 64 KiB and more back to the system when they are freed. The JIT takes its working memory in
/// 64 KiB blocks from malloc, and glibc (whose threshold for mapping a block on its own starts at 128 KiB and only
/// grows) serves those from its arenas, where memory stays once freed. A large compilation then leaves its peak in RSS
/// for good: in the soak (bench/soak.sh, 2026-11-22) the router's RSS stepped up by 5-12 MiB about seven minutes in,
/// with the managed heap unchanged, when the JIT took 145 such blocks (9.2 MiB) within six seconds (perf, a uprobe on
/// malloc). With the threshold fixed at 64 KiB each block is mapped and unmapped on its own: over the four minutes
/// traced the JIT took 1.7 a second on average (146 in the busiest ten seconds), and nothing else in the router
/// allocated natively that large. A start and its first 300 requests made about 50 more <c>mmap</c> calls than before.
/// A threshold set in the environment (<c>MALLOC_MMAP_THRESHOLD_</c>, <c>GLIBC_TUNABLES</c>) wins.
/// </summary>
internal static class NativeHeap
{
    private const int MmapThresholdOption = -3; // M_MMAP_THRESHOLD in malloc.h
    private const int MmapThreshold = 64 * 1024;

    public static void ReturnLargeBlocks()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null
            || Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("mmap_threshold", StringComparison.Ordinal) == true) return;
        try
        {
            MallOpt(MmapThresholdOption, MmapThreshold);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: its allocator has its own rules.
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallOpt(int option, int value);
}
