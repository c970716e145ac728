using System.Runtime.InteropServices;

namespace Boxes.Worker.Browsers;

/// <summary>SIGKILL for a process or a whole process group, straight from libc.</summary>
internal static partial class Signals
{
    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    public static void Kill(int pid) => SysKill(pid, SigKill);

    private const int PrioProcessGroup = 1;

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SysSetPriority(int which, int who, int priority);

    /// <summary>Sets the scheduling priority (nice value) of every process in the group led by <paramref name="leader"/>.</summary>
    public static bool SetGroupPriority(int leader, int nice) => leader > 1 && SysSetPriority(PrioProcessGroup, leader, nice) == 0;

    /// <summary>Kills every process in the group led by <paramref name="leader"/>.</summary>
    public static void KillGroup(int leader)
    {
        if (leader > 1) SysKill(-leader, SigKill);
    }
}
