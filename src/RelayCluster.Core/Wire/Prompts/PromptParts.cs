using System.Text.Json.Nodes;

namespace RelayCluster.Core.Wire.Prompts;

/// <summary>
/// What each kind of chat content part adds to a prompt's size, by the part types OpenAI accepts: <c>text</c> and
/// <c>refusal</c> are text; <c>image_url</c> an image by its detail and (for a <c>data:</c> URL) the size its header
/// states; <c>input_audio</c> a duration bound from its WAV header or its size; <c>file</c> the model's worst case for a
/// file. A part of any other shape is counted as its JSON text (the upstream judges it).
/// Source: https://platform.openai.com/docs/api-reference/chat/create (messages[].content).
/// </summary>
internal static class PromptParts
{
    /// <summary>Compressed audio at its lowest common bit rate (MP3's 8 kbit/s): the most seconds a byte can hold.</summary>
    private const int MinAudioBytesPerSecond = 1000;

    /// <summary>The fastest plausible WAV (48 kHz, stereo, 32-bit): a header claiming more is not believed.</summary>
    private const int MaxWavBytesPerSecond = 48_000 * 2 * 4;

    /// <remarks>
    /// The part's <c>type</c> decides (the provider dispatches on it, and <see cref="MessageRules"/> has checked that the
    /// field it names is there): a stray field of another kind, such as an image part's <c>text</c>, changes nothing.
    /// </remarks>
    public static void Measure(JsonObject part, ref PromptMeter meter)
    {
        switch (Text(part["type"]))
        {
            case "text" when Text(part["text"]) is { } text:
                meter.AddText(text);
                break;
            case "refusal" when Text(part["refusal"]) is { } refusal:
                meter.AddText(refusal);
                break;
            case "image_url" when part["image_url"] is { } image:
                meter.Content.AddImage(Image(image));
                break;
            case "input_audio" when part["input_audio"] is JsonObject audio:
                meter.Content.AddAudio(AudioSeconds(Text(audio["data"]) ?? ""));
                break;
            case "file" when part["file"] is JsonObject:
                meter.Content.AddFile();
                break;
            default:
                meter.AddText(part.ToJsonString());
                break;
        }
    }

    /// <summary>
    /// A message's role and name (their text, and one more token for a name, as OpenAI counts them) and a tool
    /// message's call id. The 3 tokens that frame every message are the <see cref="PromptSize"/>'s per-item overhead.
    /// </summary>
    public static void MeasureMessageFields(JsonObject message, ref PromptMeter meter)
    {
        if (Text(message["role"]) is { } role)
        {
            meter.AddText(role);
        }

        if (Text(message["name"]) is { } name)
        {
            meter.AddText(name);
            meter.ExplicitTokens++;
        }

        if (Text(message["tool_call_id"]) is { } callId)
        {
            meter.AddText(callId);
        }
    }

    /// <summary>
    /// The request's definitions the model reads as prompt text: functions (legacy), the response schema, the tool choice;
    /// and a predicted output's text, which may come back billed as output.
    /// </summary>
    public static void MeasureDefinitions(JsonObject body, ref PromptMeter meter)
    {
        if (body["prediction"] is JsonObject prediction)
        {
            if (Text(prediction["content"]) is { } predicted)
            {
                meter.Content.AddPrediction(predicted);
            }
            else if (prediction["content"] is JsonArray parts)
            {
                foreach (var part in parts.OfType<JsonObject>())
                {
                    meter.Content.AddPrediction(Text(part["text"]) ?? part.ToJsonString());
                }
            }
        }

        foreach (var name in (ReadOnlySpan<string>)["functions", "response_format", "tool_choice", "function_call"])
        {
            if (body[name] is JsonObject or JsonArray)
            {
                meter.AddText(body[name]!.ToJsonString());
            }
        }
    }

    private static PromptImage Image(JsonNode image)
    {
        // image_url is an object {url, detail}; a bare string URL is taken too.
        var url = image is JsonObject o ? Text(o["url"]) : Text(image);
        var low = image is JsonObject withDetail && Text(withDetail["detail"]) == "low";
        var (width, height) = url is null ? (0, 0) : MediaHeaders.ImageSize(MediaHeaders.DataUrlPayload(url));
        return new PromptImage(low, width, height);
    }

    private static long AudioSeconds(string base64)
    {
        var bytes = MediaHeaders.DecodedBytes(base64.Length);
        var rate = MediaHeaders.WavByteRate(base64);
        var perSecond = rate > 0 ? Math.Min(rate, MaxWavBytesPerSecond) : MinAudioBytesPerSecond;
        return (bytes / perSecond) + 1;
    }

    private static string? Text(JsonNode? node) => JsonKinds.IsString(node) ? node!.GetValue<string>() : null;
}
