// A log receiver written with gorilla/websocket, a library nobody here wrote.
//
// Usage: receiver [-port N] [-limit BYTES]
// It reads json_lines messages and prints one JSON line per event on stdout, as
// receiver.py does: {"port": N}, {"connection": K}, {"seqs": [...]}, {"close": code}.
// With -limit, a larger message makes gorilla close with 1009 (its SetReadLimit).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/gorilla/websocket"
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
	limit := flag.Int64("limit", 0, "largest message taken, in bytes (0: no limit)")
	flag.Parse()
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
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
		code := 1005
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				if closeErr, ok := err.(*websocket.CloseError); ok {
					code = closeErr.Code
				} else if err == websocket.ErrReadLimit {
					code = 1009
				} else {
					code = 1006
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
		conn.Close()
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
