// hoist-agent's counters for Prometheus, written as a file for
// node_exporter's textfile collector (docs/metrics.md): the checks it
// answered by outcome, the requests it submitted, the events it queued,
// uploaded and quarantined, and its outbox's length.
//
// MUST: label values come from fixed sets (the core's actions, "error",
// the request kinds); nothing a caller sends becomes a label value.
// MUST: the file is replaced whole (a temporary file in the same
// directory, then rename), so a reader never sees half of it, and the
// temporary file's name does not end in ".prom", so the collector never
// reads it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/state/agent_state.h"
#include "core/result.h"
#include "ipc/frame.h"
#include "metrics/registry.h"

namespace hoist::agent {

class AgentMetrics {
 public:
  // `state` is read at each render for the outbox's length; it outlives this.
  explicit AgentMetrics(AgentState& state);
  AgentMetrics(const AgentMetrics&) = delete;
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  // One request frame and the agent's reply to it (Agent::handle): counts
  // checks by outcome and submitted requests.
  void count_exchange(const ipc::Fields& request, const ipc::Fields& reply);
  void events_queued(std::size_t n = 1) { queued_.inc(n); }
  void events_uploaded(std::size_t n) { uploaded_.inc(n); }
  void events_quarantined(std::size_t n) { quarantined_.inc(n); }

  [[nodiscard]] std::string render() const { return registry_.render(); }

 private:
  metrics::Registry registry_;
  metrics::CounterFamily& checks_;
  metrics::CounterFamily& submitted_;
  metrics::Counter& queued_;
  metrics::Counter& uploaded_;
  metrics::Counter& quarantined_;
};

// Replaces the file at `path` with `text`, mode 0644: written to a hidden
// temporary file beside it, flushed to disk, then renamed over it.
Status write_textfile(const std::string& path, std::string_view text);

}  // namespace hoist::agent
