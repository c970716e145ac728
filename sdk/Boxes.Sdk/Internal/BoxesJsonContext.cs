using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Boxes.Sdk.Internal;

/// <summary>
/// Every type the SDK reads or writes, generated at build time: no reflection-based serialization, so the SDK stays
/// trimming- and AOT-safe. camelCase on the wire; unset (null) fields are left out of requests.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(BrowserConfig))]
[JsonSerializable(typeof(BrowserSession))]
[JsonSerializable(typeof(BrowserSessionList))]
[JsonSerializable(typeof(SandboxConfig))]
[JsonSerializable(typeof(Sandbox))]
[JsonSerializable(typeof(SandboxList))]
[JsonSerializable(typeof(ExecResult))]
[JsonSerializable(typeof(TerminalInfo))]
[JsonSerializable(typeof(CheckpointResult))]
[JsonSerializable(typeof(SandboxArtifactsResult))]
[JsonSerializable(typeof(ArtifactDownload))]
[JsonSerializable(typeof(CreateWebhookRequest))]
[JsonSerializable(typeof(Webhook))]
[JsonSerializable(typeof(WebhookTestResult))]
[JsonSerializable(typeof(WebhookSecretRotation))]
[JsonSerializable(typeof(WebhookDeliveryList))]
[JsonSerializable(typeof(Usage))]
[JsonSerializable(typeof(BillingInfo))]
[JsonSerializable(typeof(CheckoutRequest))]
[JsonSerializable(typeof(CheckoutSession))]
[JsonSerializable(typeof(UsageRecord))]
[JsonSerializable(typeof(PreviewSize))]
[JsonSerializable(typeof(PreviewConnection))]
[JsonSerializable(typeof(OpencodeEvent))]
[JsonSerializable(typeof(HumanHandoffRequest))]
[JsonSerializable(typeof(HumanHandoffAcceptOptions))]
[JsonSerializable(typeof(HumanHandoffCompleteOptions))]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(ExecRequest))]
[JsonSerializable(typeof(RunCodeRequest))]
[JsonSerializable(typeof(FsListResult))]
[JsonSerializable(typeof(WebhookListResult))]
[JsonSerializable(typeof(PromptRequest))]
[JsonSerializable(typeof(NavigateRequest))]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ViewerUrlResult))]
[JsonSerializable(typeof(EmptyBody))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(string))]
internal sealed partial class BoxesJsonContext : JsonSerializerContext;
