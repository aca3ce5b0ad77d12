// A log receiver written with nhooyr.io/websocket (now coder/websocket), a
// library nobody here wrote, with its defaults: a read limit of 32 KiB per
// message, past which it closes with 1009 and drops the connection, so the
// client often sees only a reset.
//
// Usage: nhooyr [-port N] [-limit BYTES]
// Prints the same JSON lines as receiver.go: {"port": N}, {"connection": K},
// {"seqs": [...]}, {"close": code}.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"

	"nhooyr.io/websocket"
)

var (
	out   = bufio.NewWriter(os.Stdout)
	mutex sync.Mutex
	count int
)

func say(event map[string]interface{}) {
	mutex.Lock()
	defer mutex.Unlock()
	line, _ := json.Marshal(event)
	out.Write(line)
	out.WriteByte('\n')
	out.Flush()
}

func main() {
	port := flag.Int("port", 0, "port to listen on")
	limit := flag.Int64("limit", 0, "largest message taken, in bytes (0: the library's default)")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		mutex.Lock()
		count++
		number := count
		mutex.Unlock()
		say(map[string]interface{}{"connection": number})
		if *limit > 0 {
			conn.SetReadLimit(*limit)
		}
		code := 1006
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				if status := websocket.CloseStatus(err); status != -1 {
					code = int(status)
				} else if bytes.Contains([]byte(err.Error()), []byte("read limited")) {
					code = 1009
				}
				break
			}
			seqs := []interface{}{}
			for _, line := range bytes.Split(bytes.TrimSpace(data), []byte{'\n'}) {
				var record map[string]interface{}
				if json.Unmarshal(line, &record) == nil {
					seqs = append(seqs, record["seq"])
				}
			}
			say(map[string]interface{}{"seqs": seqs})
		}
		conn.Close(websocket.StatusNormalClosure, "")
		say(map[string]interface{}{"close": code})
	})
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	say(map[string]interface{}{"port": listener.Addr().(*net.TCPAddr).Port})
	http.Serve(listener, nil)
}
