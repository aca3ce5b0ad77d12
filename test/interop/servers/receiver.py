"""A log receiver written with a Python WebSocket library nobody here wrote.

Usage: receiver.py LIB [--port N] [--max-size BYTES] [--stall-first N --stall-ms MS]
LIB is `websockets` or `aiohttp`. It reads json_lines messages and prints, on
stdout, one JSON line per event: {"port": N} once listening, {"connection": K}
per connection, {"seqs": [...]} per message (the `seq` of each record), and
{"close": code} when a connection ends. --stall-first N makes each of the first
N connections wait --stall-ms before it reads anything (a busy server start:
these libraries answer pings only as the application reads on).
"""
import argparse
import asyncio
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument('lib', choices=['websockets', 'aiohttp'])
parser.add_argument('--port', type=int, default=0)
parser.add_argument('--max-size', type=int, default=16 * 1024 * 1024)
parser.add_argument('--stall-first', type=int, default=0)
parser.add_argument('--stall-ms', type=int, default=0)
args = parser.parse_args()

connections = 0


def say(event):
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def seqs_of(text):
    return [json.loads(line).get('seq') for line in text.split('\n') if line.strip() != '']


async def stall(number):
    if number <= args.stall_first:
        await asyncio.sleep(args.stall_ms / 1000)


async def main_websockets():
    import websockets

    async def handler(ws, path=None):
        global connections
        connections += 1
        number = connections
        say({'connection': number})
        await stall(number)
        try:
            async for message in ws:
                say({'seqs': seqs_of(message if isinstance(message, str) else message.decode())})
        except websockets.ConnectionClosed:
            pass
        say({'close': ws.close_code})

    server = await websockets.serve(handler, '127.0.0.1', args.port, max_size=args.max_size)
    say({'port': server.sockets[0].getsockname()[1]})
    await asyncio.Future()


async def main_aiohttp():
    from aiohttp import web, WSMsgType

    async def handler(request):
        global connections
        connections += 1
        number = connections
        ws = web.WebSocketResponse(max_msg_size=args.max_size, autoping=True)
        await ws.prepare(request)
        say({'connection': number})
        await stall(number)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    say({'seqs': seqs_of(message.data)})
                elif message.type == WSMsgType.ERROR:
                    break
        except ConnectionResetError:
            # The client gave up on this connection (a pong it waited for too long).
            pass
        say({'close': ws.close_code})
        return ws

    app = web.Application()
    app.router.add_get('/', handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', args.port)
    await site.start()
    say({'port': site._server.sockets[0].getsockname()[1]})
    await asyncio.Future()


asyncio.run(main_websockets() if args.lib == 'websockets' else main_aiohttp())
