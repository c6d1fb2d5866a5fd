"""An MCP client Slipway did not write: the official Python SDK (`mcp` from PyPI).

Usage: mcp_client.py URL TOKEN CALLS_JSON
Connects over Streamable HTTP with the token as its bearer credentials, initializes, lists
the tools, makes each call in CALLS_JSON (a list of {"name": ..., "arguments": {...}}) and
prints one JSON object: the server's name, the tools with their annotations, and each call's
structured content and isError, as the SDK parsed them.
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, token: str, calls: list) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                initialized = await session.initialize()
                listed = await session.list_tools()
                results = []
                for call in calls:
                    result = await session.call_tool(call["name"], call.get("arguments") or {})
                    results.append(
                        {
                            "isError": bool(result.is_error),
                            "structuredContent": result.structured_content,
                            "text": [c.text for c in result.content if getattr(c, "type", "") == "text"],
                        }
                    )
                return {
                    "server": initialized.server_info.name,
                    "protocol": str(initialized.protocol_version),
                    "tools": [
                        {
                            "name": tool.name,
                            "readOnlyHint": tool.annotations.read_only_hint if tool.annotations else None,
                            "destructiveHint": tool.annotations.destructive_hint if tool.annotations else None,
                            "openWorldHint": tool.annotations.open_world_hint if tool.annotations else None,
                            "schemaType": tool.input_schema.get("type"),
                        }
                        for tool in listed.tools
                    ],
                    "results": results,
                }


if __name__ == "__main__":
    answer = asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
    print(json.dumps(answer))
