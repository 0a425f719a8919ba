"""SCORM 1.2 and 2004: safe package opening, manifests, metadata, export and run-time data.

A plain library: it never imports flask or capcourse, and does no I/O it is not asked to.

- :mod:`scorm.package` opens uploaded zip packages safely (zip slip, links, zip
  bombs, size and count limits) and finds files in them ignoring case.
- :mod:`scorm.manifest` parses ``imsmanifest.xml`` into organizations, items and
  resources, and checks the references XML Schema validation cannot.
- :mod:`scorm.versions` tells SCORM 1.2 from 2004 2nd, 3rd and 4th Edition.
- :mod:`scorm.lom` reads and writes LOM metadata (IMS MD 1.2.1 and IEEE LOM),
  capability mappings included as ``competency`` classifications.
- :mod:`scorm.writer` writes manifests and packages for export (2004 4th Edition, 1.2).
- :mod:`scorm.xsd` validates manifests against ADL's schemas, offline.
- :mod:`scorm.runtime` normalises the run-time data a browser player commits,
  and gives its xAPI outcome per the ADL xAPI SCORM Profile.
- :mod:`scorm.errors`: every error is a :class:`ScormError`.
"""

from scorm.errors import ManifestError, PackageError, Problem, RuntimeDataError, ScormError
from scorm.lom import (
    Classification,
    Competency,
    LangString,
    Lom,
    LomFlavour,
    Taxon,
    TaxonPath,
    competencies,
    competency_classification,
    competency_classifications,
    lom_element,
    parse_lom,
)
from scorm.manifest import (
    CompletionThreshold,
    File,
    Item,
    Manifest,
    Metadata,
    Objective,
    ObjectiveMap,
    Organization,
    Prerequisites,
    Resource,
    parse_manifest,
)
from scorm.package import Limits, Package, open_package
from scorm.runtime import DataModel, ObjectiveResult, Outcome, RuntimeData, Score, parse_runtime
from scorm.versions import ScormVersion, detect_version
from scorm.writer import ItemSpec, PackageSpec, build_manifest, write_package, xml_identifier
from scorm.xsd import ManifestSchema, ValidationError, validate_manifest

__all__ = [
    "Classification",
    "Competency",
    "CompletionThreshold",
    "DataModel",
    "File",
    "Item",
    "ItemSpec",
    "LangString",
    "Limits",
    "Lom",
    "LomFlavour",
    "Manifest",
    "ManifestError",
    "ManifestSchema",
    "Metadata",
    "Objective",
    "ObjectiveMap",
    "ObjectiveResult",
    "Organization",
    "Outcome",
    "Package",
    "PackageError",
    "PackageSpec",
    "Prerequisites",
    "Problem",
    "Resource",
    "RuntimeData",
    "RuntimeDataError",
    "Score",
    "ScormError",
    "ScormVersion",
    "Taxon",
    "TaxonPath",
    "ValidationError",
    "build_manifest",
    "competencies",
    "competency_classification",
    "competency_classifications",
    "detect_version",
    "lom_element",
    "open_package",
    "parse_lom",
    "parse_manifest",
    "parse_runtime",
    "validate_manifest",
    "write_package",
    "xml_identifier",
]
