namespace Boxes.Sdk;

/// <summary>
/// Every failure the API reports, and the SDK's own: a network failure after the retries (<see cref="Status"/> 0,
/// <see cref="Code"/> <c>NETWORK_ERROR</c>), a box that did not become ready in time (<c>TIMEOUT</c>) or failed
/// (<c>BOX_FAILED</c>), ended (<c>BOX_ENDED</c>) or was paused (<c>BOX_PAUSED</c>) while it was awaited. An answer that is not the API's JSON error
/// still gives its status, <c>HTTP_&lt;status&gt;</c> as the code, and the start of its body as the message.
/// </summary>
public sealed class BoxesError : Exception
{
    /// <summary>The code of a network failure that outlasted the retries.</summary>
    public const string NetworkErrorCode = "NETWORK_ERROR";

    /// <summary>The code of a box that was not ready before the wait's timeout.</summary>
    public const string TimeoutCode = "TIMEOUT";

    /// <summary>The code of a box that failed while it was awaited; the message carries its <c>endReason</c>.</summary>
    public const string BoxFailedCode = "BOX_FAILED";

    /// <summary>The code of a box that was ending or ended while it was awaited to become ready.</summary>
    public const string BoxEndedCode = "BOX_ENDED";

    /// <summary>The code of a sandbox that was paused while it was awaited to become ready.</summary>
    public const string BoxPausedCode = "BOX_PAUSED";

    /// <summary>Makes an error; the SDK makes these, callers rarely need to.</summary>
    public BoxesError(int status, string code, string message, string? requiredPlan = null, string? currentPlan = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        Code = code;
        RequiredPlan = requiredPlan;
        CurrentPlan = currentPlan;
    }

    /// <summary>The HTTP status (e.g. 403), or 0 when no answer came (network failure, timeout waiting for ready).</summary>
    public int Status { get; }

    /// <summary>The API's error code (e.g. <c>PLAN_FEATURE_UNAVAILABLE</c>) or one of the SDK's own codes.</summary>
    public string Code { get; }

    /// <summary>The plan a feature or limit needs, when the API says (<c>PLAN_FEATURE_UNAVAILABLE</c>, <c>PLAN_LIMIT_EXCEEDED</c>).</summary>
    public string? RequiredPlan { get; }

    /// <summary>The organisation's plan, when the API says.</summary>
    public string? CurrentPlan { get; }
}
