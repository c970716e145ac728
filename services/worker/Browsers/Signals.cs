using System.Runtime.InteropServices;

namespace Boxes.Worker.Browsers;

/// <summary>SIGKILL for a process or a whole process group, straight from libc.</summary>
internal static partial class Signals
{
    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    public static void Kill(int pid) => SysKill(pid, SigKill);

    /// <summary>Kills every process in the group led by <paramref name="leader"/>.</summary>
    public static void KillGroup(int leader)
    {
        if (leader > 1) SysKill(-leader, SigKill);
    }
}
