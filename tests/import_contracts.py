"""An import-linter contract type it does not ship: no module of the project imports itself
through other modules (imports inside functions count). import-linter's own acyclic_siblings
compares whole packages, and a lab's package is on both sides of the registry by design: the
registry imports each lab's fold, each lab's views import the shared page helpers."""

from importlinter import Contract, ContractCheck, fields, output


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        cycles: list[tuple[str, ...]] = []
        seen: set[frozenset[str]] = set()
        for package in self.packages:  # type: ignore[attr-defined]
            for module in sorted({package} | graph.find_descendants(package)):
                for imported in sorted(graph.find_modules_directly_imported_by(module)):
                    back = graph.find_shortest_chain(importer=imported, imported=module)
                    if back and frozenset(back) not in seen:
                        seen.add(frozenset(back))
                        cycles.append((module, *back))
        return ContractCheck(kept=not cycles, warnings=[], metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(" -> ".join(cycle))
            output.new_line()
