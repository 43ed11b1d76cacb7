#include "cli/output.h"

#include <ostream>

namespace contrast::cli {

void PrintInsecureWarning(std::ostream& err) {
  err << "\n"
         "  ################################################################\n"
         "  #  WARNING: INSECURE EMULATED PLATFORM                          #\n"
         "  #  This evidence is trusted because you named the emulated      #\n"
         "  #  secure processor's root. It proves NOTHING about real        #\n"
         "  #  hardware. Use it for development and CI only.                #\n"
         "  ################################################################\n"
         "\n";
}

}  // namespace contrast::cli
