using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>Checks the router's error contract: status, JSON body <c>{"error":{"message","type","param","code"}}</c>, no leaked internals.</summary>
public static partial class OpenAiErrorAssert
{
    /// <summary>Asserts the response is an OpenAI error; returns the <c>error</c> object.</summary>
    /// <param name="type">Expected <c>error.type</c>, or null to only require a non-empty string.</param>
    /// <param name="code">Expected <c>error.code</c>, or null to not check it.</param>
    public static async Task<JsonObject> IsErrorAsync(
        HttpResponseMessage response, HttpStatusCode status, string? type = null, string? code = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        var context = $"{(int)response.StatusCode} {response.Content.Headers.ContentType}: {body}";
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {context}");
        var error = IsErrorJson(body, type, code);
        Assert.True(
            response.Content.Headers.ContentType?.MediaType == "application/json",
            $"Error bodies must be application/json; got {context}");

        // Checked last so a missing header does not hide problems with the body.
        Assert.True(response.Headers.Contains("x-request-id"), $"Error response has no x-request-id header; {context}");
        return error;
    }

    /// <summary>Asserts a JSON text (a whole body or an SSE frame) is an OpenAI error object.</summary>
    public static JsonObject IsErrorJson(string body, string? type = null, string? code = null)
    {
        NoStackTrace(body);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"Error body is not JSON ({e.Message}): {body}");
        }

        var error = root?["error"] as JsonObject
            ?? throw new Xunit.Sdk.XunitException($"Body has no \"error\" object: {body}");

        var message = error["message"];
        Assert.True(message is JsonValue && message.GetValue<string>().Length > 0, $"error.message must be a non-empty string: {body}");
        var actualType = error["type"];
        Assert.True(actualType is JsonValue && actualType.GetValue<string>().Length > 0, $"error.type must be a non-empty string: {body}");
        Assert.True(error.ContainsKey("param"), $"error.param is missing: {body}");
        Assert.True(error.ContainsKey("code"), $"error.code is missing: {body}");
        if (type is not null)
        {
            Assert.True(type == actualType.GetValue<string>(), $"Expected error.type \"{type}\": {body}");
        }

        if (code is not null)
        {
            Assert.True(error["code"] is JsonValue c && c.GetValue<string>() == code, $"Expected error.code \"{code}\": {body}");
        }

        return error;
    }

    public static string Message(this JsonObject error) => error["message"]!.GetValue<string>();

    /// <summary>No .NET exception type names, stack frames or source paths in a client-visible body.</summary>
    public static void NoStackTrace(string body)
    {
        Assert.False(StackFrame().IsMatch(body), $"Body leaks a stack trace: {body}");
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        Assert.DoesNotContain(".cs:line", body, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\bat [A-Za-z_][\w.`<>]*\(", RegexOptions.CultureInvariant)]
    private static partial Regex StackFrame();
}
