using System.CommandLine;
using System.Globalization;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;

namespace GpuAD.Tool.Commands;

/// <summary><c>gpuad demo</c>'s data: the weekly Mauna Loa CO₂ record and its windows.</summary>
internal static partial class DemoCommand
{
    /// <summary>The weekly Mauna Loa CO₂ record shipped with the tool (src/Host/Tool/Data, exported by Scripts/export_co2.py).</summary>
    internal static class Co2
    {
        private static readonly Lazy<(double[] Year, double[] Ppm)> Record = new(Load);

        public static int Weeks => Record.Value.Year.Length;

        public static double Year(int week) => Record.Value.Year[week];

        private static (double[], double[]) Load()
        {
            using var stream = typeof(Co2).Assembly.GetManifestResourceStream("co2_weekly.csv")
                ?? throw new ToolFailureException("The CO₂ record is missing from the tool (resource co2_weekly.csv).");
            using var reader = new StreamReader(stream);
            reader.ReadLine(); // header
            var year = new List<double>();
            var ppm = new List<double>();
            while (reader.ReadLine() is { } line)
            {
                var parts = line.Split(',');
                year.Add(double.Parse(parts[0], CultureInfo.InvariantCulture));
                ppm.Add(double.Parse(parts[1], CultureInfo.InvariantCulture));
            }
            return (year.ToArray(), ppm.ToArray());
        }

        /// <summary>
        /// Monthly means of the weekly record, as pandas' <c>resample("M").mean()</c>: x = year + month/12
        /// (the month of each week's date, recovered from its decimal year), y in ppm.
        /// </summary>
        public static (double[] X, double[] Ppm) Monthly()
        {
            var (year, ppm) = Record.Value;
            var sums = new SortedDictionary<int, (double Sum, int Count)>();
            for (int i = 0; i < year.Length; i++)
            {
                int y = (int)Math.Floor(year[i]);
                int days = DateTime.IsLeapYear(y) ? 366 : 365;
                int month = new DateTime(y, 1, 1).AddDays(Math.Round((year[i] - y) * days)).Month;
                int key = y * 12 + month - 1;
                var (sum, count) = sums.GetValueOrDefault(key);
                sums[key] = (sum + ppm[i], count + 1);
            }
            return (sums.Keys.Select(k => k / 12 + (k % 12 + 1) / 12.0).ToArray(), sums.Values.Select(v => v.Sum / v.Count).ToArray());
        }

        /// <summary>
        /// <paramref name="batch"/> windows of <paramref name="n"/> consecutive weeks at seeded
        /// positions: x in years from the window's centre, y in ppm standardized per window.
        /// </summary>
        public static (double[] X, double[] Y, int[] Starts) Windows(int batch, int n, int seed)
        {
            var (year, ppm) = Record.Value;
            var rng = new Random(seed);
            var x = new double[batch * n];
            var y = new double[batch * n];
            var starts = new int[batch];
            for (int b = 0; b < batch; b++)
            {
                int start = starts[b] = rng.Next(0, year.Length - n + 1);
                double centre = 0.5 * (year[start] + year[start + n - 1]);
                double mean = 0, sq = 0;
                for (int i = 0; i < n; i++) mean += ppm[start + i] / n;
                for (int i = 0; i < n; i++) sq += (ppm[start + i] - mean) * (ppm[start + i] - mean) / n;
                double sd = sq > 0 ? Math.Sqrt(sq) : 1;
                for (int i = 0; i < n; i++)
                {
                    x[b * n + i] = year[start + i] - centre;
                    y[b * n + i] = (ppm[start + i] - mean) / sd;
                }
            }
            return (x, y, starts);
        }
    }
}
