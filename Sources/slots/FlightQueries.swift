import Layers

/// Synthetic flight queries in the style of ATIS, tagged with BIO slot labels: `B-toloc` on
/// the first word of a destination, `I-toloc` on the rest of it, `O` outside any slot. The
/// training split draws city and airline names from one list, the held-out split only from
/// another, so every held-out sentence contains words never seen in training.
struct FlightQueries {
    static let slots = ["fromloc", "toloc", "depart_day", "depart_time", "airline"]
    /// "O", then B- and I- of each slot.
    static let tags = ["O"] + slots.flatMap { ["B-\($0)", "I-\($0)"] }

    static let templates = [
        "show me flights from {fromloc} to {toloc}",
        "i want to fly from {fromloc} to {toloc} on {depart_day}",
        "list {airline} flights from {fromloc} to {toloc} in the {depart_time}",
        "what flights go to {toloc} from {fromloc} on {depart_day} {depart_time}",
        "i need a {airline} flight to {toloc} leaving {fromloc} on {depart_day}",
        "find a flight from {fromloc} arriving in {toloc} in the {depart_time}",
        "are there any flights on {depart_day} from {fromloc} to {toloc}",
        "book me on {airline} from {fromloc} to {toloc}",
        "how much is a ticket to {toloc} from {fromloc}",
        "flights leaving {fromloc} {depart_day} {depart_time} for {toloc}",
    ]
    static let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "tomorrow"]
    static let times = ["morning", "afternoon", "evening", "night"]
    static let trainingCities = ["boston", "denver", "atlanta", "dallas", "new york", "san francisco", "los angeles", "seattle",
                                 "chicago", "miami", "phoenix", "houston", "detroit", "salt lake city", "orlando", "memphis"]
    static let heldOutCities = ["pittsburgh", "san diego", "new orleans", "tampa", "portland", "kansas city", "nashville",
                                "austin", "cleveland", "las vegas"]
    static let trainingAirlines = ["united", "delta", "american", "alaska"]
    static let heldOutAirlines = ["jetblue", "southwest", "frontier"]

    /// One tagged sentence; `heldOut` picks cities and airlines from the held-out lists.
    static func sentence(heldOut: Bool, using generator: inout RandomGenerator) -> (words: [String], tags: [Int]) {
        func pick(_ list: [String]) -> String { list[Int(generator.next() % UInt64(list.count))] }
        let cities = heldOut ? heldOutCities : trainingCities, airlines = heldOut ? heldOutAirlines : trainingAirlines
        let from = pick(cities)
        var to = pick(cities)
        while to == from { to = pick(cities) }
        let values = ["fromloc": from, "toloc": to, "depart_day": pick(days), "depart_time": pick(times), "airline": pick(airlines)]
        var words: [String] = [], tags: [Int] = []
        for token in pick(templates).split(separator: " ").map(String.init) {
            if token.hasPrefix("{"), let slot = slots.firstIndex(of: String(token.dropFirst().dropLast())) {
                for (index, word) in values[slots[slot]]!.split(separator: " ").enumerated() {
                    words.append(String(word))
                    tags.append(1 + 2 * slot + (index == 0 ? 0 : 1))
                }
            } else {
                words.append(token)
                tags.append(0)
            }
        }
        return (words, tags)
    }
}
